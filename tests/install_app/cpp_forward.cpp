// cpp_forward MODEL IN.npy OUT.npy: forward on one input read from a .npy,
// the result written as a .npy. Errors: the one-line message, exit 1.
#include <iostream>

#include <tsbridge/error.h>
#include <tsbridge/model.h>
#include <tsbridge/tensor_io.h>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: cpp_forward MODEL IN.npy OUT.npy\n";
    return 2;
  }
  try {
    const auto model = tsbridge::Model::load(argv[1]);
    tsbridge::write_npy(argv[3], model.forward(tsbridge::read_tensor(argv[2])));
  } catch (const tsbridge::Error& e) {
    std::cerr << "cpp_forward: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
