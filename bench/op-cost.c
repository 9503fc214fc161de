// Daemon CPU per single operation, for profiling one request type at a time (used for the figures of issue 9 in
// docs/BENCHMARKS.md). Each mode loops N times on FILE (inside a mount) and reports wall us and the daemon's CPU us
// per iteration, read from CPU_FILE (ns, e.g. a cpuacct cgroup's cpuacct.usage holding the daemon).
// usage: op-cost FILE N CPU_FILE [MODE]   MODE: 0 getattr (statx FORCE_SYNC), 1 open+close, 2 pread, 3 open+fstat+
//        read+close, 4 open O_WRONLY+close, 5 create+write+close of FILE.cN, 6 unlink of FILE.cN, 7 mkdir+rmdir of
//        FILE.dN; default: all
// e.g.   mkdir /sys/fs/cgroup/cpuacct/x; echo $DAEMON_PID > /sys/fs/cgroup/cpuacct/x/cgroup.procs
//        op-cost /mnt/nodes/n1/f 20000 /sys/fs/cgroup/cpuacct/x/cpuacct.usage
#define _GNU_SOURCE
#define _GNU_SOURCE
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

static double cpu_ns(const char* file) {
  FILE* f = fopen(file, "r");
  double v = 0;
  if (f) {
    if (fscanf(f, "%lf", &v) != 1) v = 0;
    fclose(f);
  }
  return v;
}

static const char* const MODES[] = {"getattr", "open+close", "pread", "open+fstat+read+close", "write-open+close",
                                    "create+write+close", "unlink", "mkdir+rmdir"};

static void one(int mode, const char* file, int fd, int i) {
  static char buf[4096], name[4200];
  struct statx sx;
  struct stat st;
  int f;
  switch (mode) {
    case 0:
      statx(fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx);
      break;
    case 1:
      close(open(file, O_RDONLY));
      break;
    case 2:
      if (pread(fd, buf, 512, 0) < 0) perror("pread");
      break;
    case 3:
      f = open(file, O_RDONLY);
      fstat(f, &st);
      if (read(f, buf, sizeof buf) < 0) perror("read");
      close(f);
      break;
    case 4:
      close(open(file, O_WRONLY));
      break;
    case 5:
      snprintf(name, sizeof name, "%s.c%d", file, i);
      f = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
      if (write(f, buf, 512) != 512) perror("write");
      close(f);
      break;
    case 6:
      snprintf(name, sizeof name, "%s.c%d", file, i);
      unlink(name);
      break;
    default:
      snprintf(name, sizeof name, "%s.d%d", file, i);
      if (mkdir(name, 0755) != 0 || rmdir(name) != 0) perror(name);
  }
}

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  const char* file = argv[1];
  int n = atoi(argv[2]);
  const char* cpu = argv[3];
  int only = argc > 4 ? atoi(argv[4]) : -1;
  for (int m = 0; m < 8; m++) {
    if (only >= 0 && m != only) continue;
    int fd = open(file, O_RDONLY);
    if (fd < 0) {
      perror(file);
      return 1;
    }
    double c0 = cpu_ns(cpu), t = now();
    for (int i = 0; i < n; i++) one(m, file, fd, i);
    double dt = now() - t;
    usleep(20000);  // let asynchronous RELEASEs finish before reading the daemon's CPU time
    printf("%-24s %7.1f us/iter  daemon cpu %6.1f us/iter\n", MODES[m], dt * 1e6 / n, (cpu_ns(cpu) - c0) / 1e3 / n);
    close(fd);
  }
  return 0;
}
