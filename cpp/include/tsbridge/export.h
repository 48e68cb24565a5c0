#pragma once

// Symbols of libtsbridge that apps may use. The library is built with hidden
// visibility so only the public API is exported.
#if defined(_WIN32)
#define TSBRIDGE_API
#else
#define TSBRIDGE_API __attribute__((visibility("default")))
#endif
