// Bare cost of one FUSE request round trip: statx(AT_STATX_FORCE_SYNC) on an open file sends exactly one GETATTR
// (no LOOKUP, no data), so the loop measures kernel -> daemon -> kernel and nothing of the filesystem's work.
// usage: rtt-client FILE N  -> prints {"us": median microseconds per call over 20 slices, "calls": N}
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}
static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  int n = atoi(argv[2]);
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) {
    perror(argv[1]);
    return 1;
  }
  struct statx sx;
  enum { SLICES = 20 };
  double us[SLICES];
  int per = n / SLICES;
  for (int s = 0; s < SLICES; s++) {
    double t = now();
    for (int i = 0; i < per; i++) {
      if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx) != 0) {
        perror("statx");
        return 1;
      }
    }
    us[s] = (now() - t) * 1e6 / per;
  }
  qsort(us, SLICES, sizeof(double), cmp);
  printf("{\"us\":%.3f,\"calls\":%d}\n", (us[SLICES / 2 - 1] + us[SLICES / 2]) / 2, per * SLICES);
  return 0;
}
