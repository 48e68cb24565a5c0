/* coldstart: runs one command as a whole process and reports, as one JSON
 * line on stdout, the seconds from fork to its first byte on stdout, to its
 * exit, and its peak RSS (ru_maxrss from wait4).
 *
 *   coldstart COMMAND [ARGS...]
 *
 * Why a tiny C program: Linux carries a process's peak RSS across exec, so a
 * child forked from a big parent (the benchmark driver, with torch loaded)
 * reports at least the parent's RSS. Forked from this ~1 MiB process, the
 * child's peak is its own. The command's stdout is read and discarded; its
 * stderr passes through. Exit status: the command's (128 + signal if killed). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: coldstart COMMAND [ARGS...]\n");
    return 2;
  }
  int out[2];
  if (pipe(out) != 0) {
    perror("coldstart: pipe");
    return 2;
  }
  const double start = now();
  const pid_t pid = fork();
  if (pid < 0) {
    perror("coldstart: fork");
    return 2;
  }
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execvp(argv[1], argv + 1);
    perror("coldstart: exec");
    _exit(127);
  }
  close(out[1]);
  char buffer[65536];
  double first = -1;
  long bytes = 0;
  for (;;) {
    const ssize_t n = read(out[0], buffer, sizeof buffer);
    if (n > 0 && first < 0) first = now() - start;
    if (n > 0) bytes += n;
    if (n == 0) break;
    if (n < 0) break;
  }
  int status = 0;
  struct rusage usage;
  memset(&usage, 0, sizeof usage);
  if (wait4(pid, &status, 0, &usage) < 0) {
    perror("coldstart: wait4");
    return 2;
  }
  const double exited = now() - start;
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  printf(
      "{\"first_output_s\": %.6f, \"exit_s\": %.6f, \"peak_rss_kib\": %ld, \"stdout_bytes\": %ld, \"exit_code\": %d}\n",
      first < 0 ? exited : first, exited, usage.ru_maxrss, bytes, code);
  return code;
}
