// C client of bench/native-fuse-bench.ts: the same loops as native-fuse-client.ts without Node's own per-call cost,
// so the figures show the filesystem. Prints one JSON line.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}
static void die(const char* what, const char* path) {
  perror(path);
  fprintf(stderr, "%s failed\n", what);
  exit(1);
}
static void put(const char* path, const char* buf, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open", path);
  for (size_t off = 0; off < len;) {
    ssize_t n = write(fd, buf + off, len - off);
    if (n <= 0) die("write", path);
    off += n;
  }
  if (close(fd) != 0) die("close", path);
}
static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  int n = argc > 3 ? atoi(argv[3]) : 2000;
  char dir[4096], p[4200], q[4200];
  snprintf(dir, sizeof dir, "%s/%s", argv[1], argv[2]);
  if (mkdir(dir, 0755)) die("mkdir", dir);
  static char small[512], big[1 << 20], rbuf[65536];
  memset(small, 'a', sizeof small);
  memset(big, 'b', sizeof big);

  double t = now();
  for (int i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/file-%d.conf", dir, i);
    put(p, small, sizeof small);
  }
  double create = n / (now() - t);

  t = now();
  for (int i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/file-%d.conf", dir, i);
    int fd = open(p, O_RDONLY);
    if (fd < 0) die("open", p);
    struct stat st;
    fstat(fd, &st);
    while (read(fd, rbuf, sizeof rbuf) > 0) {
    }
    close(fd);
  }
  double rd = n / (now() - t);

  t = now();
  for (int i = 0; i < n; i++) {
    struct stat st;
    snprintf(p, sizeof p, "%s/file-%d.conf", dir, i);
    if (stat(p, &st)) die("stat", p);
  }
  double st = n / (now() - t);

  snprintf(p, sizeof p, "%s/tmp", dir);
  mkdir(p, 0755);
  t = now();
  for (int i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/tmp/.tmp-%d", dir, i);
    snprintf(q, sizeof q, "%s/tmp/r-%d", dir, i);
    put(p, small, sizeof small);
    if (rename(p, q)) die("rename", p);
  }
  double rn = n / (now() - t);

  snprintf(p, sizeof p, "%s/thousand", dir);
  mkdir(p, 0755);
  for (int i = 0; i < 1000; i++) {
    snprintf(q, sizeof q, "%s/vm-%d.conf", p, i);
    put(q, small, sizeof small);
  }
  double rdms[100];
  for (int k = 0; k < 100; k++) {
    t = now();
    DIR* d = opendir(p);
    int c = 0;
    while (readdir(d)) c++;
    closedir(d);
    if (c != 1002) die("readdir count", p);
    rdms[k] = (now() - t) * 1e3;
  }
  qsort(rdms, 100, sizeof(double), cmp);
  double bw[20];
  for (int k = 0; k < 20; k++) {
    snprintf(q, sizeof q, "%s/big-%d", dir, k);
    t = now();
    put(q, big, sizeof big);
    bw[k] = (now() - t) * 1e3;
  }
  qsort(bw, 20, sizeof(double), cmp);
  printf("{\"create\":%.0f,\"read\":%.0f,\"stat\":%.0f,\"rename\":%.0f,\"readdirMs\":%.4f,\"bigWriteMs\":%.3f}\n", create, rd,
         st, rn, rdms[50], bw[10]);
  return 0;
}
