/* This daemon's SQLite transaction in C, for the floors of the benches (ll-floor.c, cpg-floor.c): the original's
 * `tree` schema, WAL, synchronous NORMAL, SQLite's own checkpoints; one change = one transaction (a row deleted
 * and/or upserted, then the version row), as src/store/db.ts commits it. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct floor_row {
  int64_t inode, parent, writer, mtime;
  int type; /* 4 directory, 8 file */
  const char* name;
  const void* data;
  size_t len;
};

struct floor_db {
  sqlite3* db;
  sqlite3_stmt *put, *del, *ver, *begin, *commit;
  int64_t version;
};

/* 0, or -1 (the reason on stderr) */
static int floor_db_open(struct floor_db* f, const char* file) {
  if (sqlite3_open(file, &f->db) != SQLITE_OK) return -1;
  sqlite3_busy_timeout(f->db, 250);
  sqlite3_exec(f->db,
               "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE IF NOT EXISTS tree (inode INTEGER "
               "PRIMARY KEY, parent INTEGER NOT NULL, version INTEGER NOT NULL, writer INTEGER NOT NULL, mtime INTEGER "
               "NOT NULL, type INTEGER NOT NULL, name TEXT NOT NULL, data BLOB); INSERT OR IGNORE INTO tree VALUES (0, "
               "0, 0, 0, 0, 8, '__version__', NULL);",
               NULL, NULL, NULL);
  sqlite3_prepare_v2(f->db,
                     "INSERT INTO tree (inode, parent, version, writer, mtime, type, name, data) VALUES (?, ?, ?, ?, ?, "
                     "?, ?, ?) ON CONFLICT(inode) DO UPDATE SET parent = excluded.parent, version = excluded.version, "
                     "writer = excluded.writer, mtime = excluded.mtime, type = excluded.type, name = excluded.name, "
                     "data = excluded.data",
                     -1, &f->put, NULL);
  sqlite3_prepare_v2(f->db, "DELETE FROM tree WHERE inode = ?", -1, &f->del, NULL);
  sqlite3_prepare_v2(f->db, "UPDATE tree SET version = ?, writer = ?, mtime = ? WHERE inode = 0", -1, &f->ver, NULL);
  sqlite3_prepare_v2(f->db, "BEGIN", -1, &f->begin, NULL);
  sqlite3_prepare_v2(f->db, "COMMIT", -1, &f->commit, NULL);
  if (f->put && f->del && f->ver && f->begin && f->commit) return 0;
  fprintf(stderr, "%s: %s\n", file, sqlite3_errmsg(f->db));
  return -1;
}

static int floor_step(sqlite3_stmt* s) {
  int ok = sqlite3_step(s) == SQLITE_DONE;
  sqlite3_reset(s);
  return ok;
}

/* One change: `del` (an inode, or 0) removed, `put` (or NULL) upserted, the version row moved on. 0, or -1. */
static int floor_db_commit(struct floor_db* f, const struct floor_row* put, int64_t del) {
  int64_t version = ++f->version;
  int ok = floor_step(f->begin);
  if (ok && del) {
    sqlite3_bind_int64(f->del, 1, del);
    ok = floor_step(f->del);
  }
  if (ok && put) {
    sqlite3_bind_int64(f->put, 1, put->inode);
    sqlite3_bind_int64(f->put, 2, put->parent);
    sqlite3_bind_int64(f->put, 3, version);
    sqlite3_bind_int64(f->put, 4, put->writer);
    sqlite3_bind_int64(f->put, 5, put->mtime);
    sqlite3_bind_int(f->put, 6, put->type);
    sqlite3_bind_text(f->put, 7, put->name, -1, SQLITE_STATIC);
    /* the original stores an empty file as NULL */
    if (put->len) sqlite3_bind_blob(f->put, 8, put->data, (int)put->len, SQLITE_STATIC);
    else sqlite3_bind_null(f->put, 8);
    ok = floor_step(f->put);
  }
  if (ok) {
    sqlite3_bind_int64(f->ver, 1, version);
    sqlite3_bind_int64(f->ver, 2, put ? put->writer : 0);
    sqlite3_bind_int64(f->ver, 3, time(NULL));
    ok = floor_step(f->ver);
  }
  if (ok) ok = floor_step(f->commit);
  if (!ok) sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL);
  return ok ? 0 : -1;
}
