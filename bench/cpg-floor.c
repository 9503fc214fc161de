/* The cluster half of this daemon's design with nothing else in it, in C, for issue 7's "why" (the cluster bench's
 * --floor): a writer multicasts each change (agreed order), applies it at its own delivery in one SQLite transaction
 * of the daemon's shape, and is done then (ACK 0: the original's promise) or once every other member acknowledged
 * it (ACK 1: this daemon's default); every other member applies each change in its own transaction and, with ACK 1,
 * multicasts an acknowledgement. No FUSE: the cluster bench adds a new file's local part (bench/ll-floor.c).
 *   cpg-floor member GROUP DB ACK                      apply (and acknowledge) until killed
 *   cpg-floor write GROUP DB N SIZE MEMBERS ACK        N changes of SIZE bytes one after another; prints
 *                                                      {"n":N,"perSec":R,"p50us":..,"p99us":..}
 */
#include <corosync/cpg.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "floor-db.h"

enum { CHANGE = 1, ACKED = 2 };
struct head {
  uint32_t type, writer, pid;
  uint64_t seq;
};

static struct floor_db fdb;
static cpg_handle_t h;
static unsigned int local_id;
static uint32_t my_pid;
static size_t members;
static int acking;
/* writer: the change in flight, whether it came back, and how many acknowledged it */
static uint64_t waiting = UINT64_MAX;
static int applied;
static size_t acks;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* the daemon's transaction for a new file */
static void apply(uint64_t seq, const void* data, size_t len) {
  char name[32];
  snprintf(name, sizeof name, "f%llu", (unsigned long long)seq);
  struct floor_row r = {(int64_t)(1000 + seq), 1, 1, time(NULL), 8, name, data, len};
  if (floor_db_commit(&fdb, &r, 0)) {
    fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(fdb.db));
    exit(1);
  }
}

static void mcast(const struct head* hd, const void* data, size_t len) {
  struct iovec iov[2] = {{(void*)hd, sizeof *hd}, {(void*)data, len}};
  cs_error_t rc;
  while ((rc = cpg_mcast_joined(h, CPG_TYPE_AGREED, iov, len ? 2 : 1)) == CS_ERR_TRY_AGAIN) usleep(100);
  if (rc != CS_OK) {
    fprintf(stderr, "mcast: %d\n", rc);
    exit(1);
  }
}

static void on_deliver(cpg_handle_t hh, const struct cpg_name* g, uint32_t nodeid, uint32_t pid, void* msg, size_t len) {
  (void)hh;
  (void)g;
  if (len < sizeof(struct head)) return;
  struct head hd;
  memcpy(&hd, msg, sizeof hd);
  int mine = nodeid == local_id && pid == my_pid;
  if (hd.type == CHANGE) {
    apply(hd.seq, (char*)msg + sizeof hd, len - sizeof hd);
    if (mine) {
      if (hd.seq == waiting) applied = 1;
    } else if (acking) {
      struct head a = {ACKED, hd.writer, hd.pid, hd.seq};
      mcast(&a, NULL, 0);
    }
  } else if (hd.type == ACKED && hd.writer == local_id && hd.pid == my_pid && hd.seq == waiting) {
    acks++;
  }
}

static void on_confchg(cpg_handle_t hh, const struct cpg_name* g, const struct cpg_address* m, size_t mn,
                       const struct cpg_address* l, size_t ln, const struct cpg_address* j, size_t jn) {
  (void)hh;
  (void)g;
  (void)m;
  (void)l;
  (void)ln;
  (void)j;
  (void)jn;
  members = mn;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  int writing = argc >= 8 && strcmp(argv[1], "write") == 0;
  if (!writing && !(argc >= 5 && strcmp(argv[1], "member") == 0)) {
    fprintf(stderr, "usage: %s member GROUP DB ACK | write GROUP DB N SIZE MEMBERS ACK\n", argv[0]);
    return 2;
  }
  if (floor_db_open(&fdb, argv[3])) return 1;
  acking = atoi(argv[writing ? 7 : 4]);
  cpg_callbacks_t cb = {on_deliver, on_confchg};
  if (cpg_initialize(&h, &cb) != CS_OK) return 1;
  struct cpg_name name;
  memset(&name, 0, sizeof name);
  name.length = strlen(argv[2]);
  memcpy(name.value, argv[2], name.length);
  if (cpg_join(h, &name) != CS_OK) return 1;
  cpg_local_get(h, &local_id);
  my_pid = (uint32_t)getpid();
  int fd;
  cpg_fd_get(h, &fd);
  struct pollfd p = {fd, POLLIN, 0};
  if (!writing) {
    for (;;) {
      if (poll(&p, 1, 1000) < 0) continue;
      if (cpg_dispatch(h, CS_DISPATCH_ALL) == CS_ERR_LIBRARY) return 0;
    }
  }
  uint64_t n = strtoull(argv[4], NULL, 10);
  size_t size = strtoul(argv[5], NULL, 10), want = strtoul(argv[6], NULL, 10);
  char* data = calloc(1, size);
  uint64_t deadline = now_ns() + 20000000000ull;
  while (members < want && now_ns() < deadline) {
    poll(&p, 1, 100);
    cpg_dispatch(h, CS_DISPATCH_ALL);
  }
  if (members < want) {
    fprintf(stderr, "only %zu members\n", members);
    return 1;
  }
  double* lat = calloc(n, sizeof(double));
  uint64_t start = now_ns();
  for (uint64_t i = 0; i < n; i++) {
    uint64_t t = now_ns();
    waiting = i;
    applied = 0;
    acks = 0;
    struct head hd = {CHANGE, local_id, my_pid, i};
    mcast(&hd, data, size);
    while (!applied || (acking && acks < members - 1)) {
      if (now_ns() > t + 10000000000ull) {
        fprintf(stderr, "change %llu not done in 10 s\n", (unsigned long long)i);
        return 1;
      }
      poll(&p, 1, 10);
      cpg_dispatch(h, CS_DISPATCH_ALL);
    }
    lat[i] = (double)(now_ns() - t) / 1000.0;
  }
  double secs = (double)(now_ns() - start) / 1e9;
  qsort(lat, n, sizeof(double), cmp);
  printf("{\"n\":%llu,\"perSec\":%.0f,\"p50us\":%.1f,\"p99us\":%.1f}\n", (unsigned long long)n, (double)n / secs,
         lat[n / 2], lat[(size_t)(n * 0.99)]);
  cpg_finalize(h);
  sqlite3_close(fdb.db);
  return 0;
}
