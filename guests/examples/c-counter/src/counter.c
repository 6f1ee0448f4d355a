/*
 * c-counter: a wasmdest destination guest in C, written from abi/ABI.md.
 *
 * It keeps every record batch it is given in memory, byte for byte, per
 * table, counts the rows, answers `read` by sending the batches back, and at
 * `close` writes the row counts as JSON to a file in the directory the host
 * grants it (capability "filesystem"). Write mode append only; no schemas
 * (describe answers unsupported, so the host never migrates), no
 * delete-stale. Its storage lives as long as its instance.
 *
 * It parses just enough of the Arrow IPC stream format to find messages, tell
 * a schema from a record batch and read a batch's row count: the framing
 * (continuation marker, metadata length, metadata, body) and three fields of
 * the flatbuffers metadata.
 *
 * Build (Debian 12: apt-get install clang lld wasi-libc):
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -o c-counter.wasm src/counter.c
 * (clang 18 and later also accept --target=wasm32-wasip1, the same thing.)
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The ABI (abi/ABI.md sections 1-4) ---- */

#define IMPORT(n) __attribute__((import_module("wasmdest"), import_name(n)))
#define EXPORT(n) __attribute__((export_name(n)))

IMPORT("log") void host_log(int32_t level, const void *ptr, int32_t len);
IMPORT("set_error") void host_set_error(const void *ptr, int32_t len);
IMPORT("input_read") int32_t host_input_read(void *ptr, int32_t cap);
IMPORT("output") int32_t host_output(const void *ptr, int32_t len);
IMPORT("result_read") int32_t host_result_read(void *ptr, int32_t cap);
IMPORT("expand") int64_t host_expand(const void *ptr, int32_t len);

enum { ABI_MAJOR = 1, ABI_MINOR = 0 };
enum { OP_MANIFEST = 1, OP_INIT, OP_DESCRIBE, OP_MIGRATE, OP_WRITE, OP_DELETE_STALE, OP_READ, OP_CLOSE };
enum { ST_OK = 0, ST_ERROR, ST_UNSUPPORTED, ST_CANCELLED, ST_BAD_REQUEST };
enum { LOG_DEBUG = 2, LOG_INFO = 3, LOG_WARN = 4 };

static const char manifest[] =
    "{\"name\":\"c-counter\",\"version\":\"v0.1.0\",\"abi_version\":\"1.0\","
    "\"capabilities\":[\"filesystem\"],"
    "\"spec_schema\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"batch_size\":{\"type\":\"integer\",\"minimum\":0},"
    "\"batch_size_bytes\":{\"type\":\"integer\",\"minimum\":0},"
    "\"batch_timeout\":{\"type\":[\"string\",\"integer\"]}}},"
    "\"write_modes\":[\"append\"],\"features\":[\"read\"],"
    "\"batch_defaults\":{\"batch_size\":10000,\"batch_size_bytes\":16777216,\"batch_timeout\":\"10s\"}}";

static void logf_(int level, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n >= (int)sizeof buf) n = sizeof buf - 1;
  host_log(level, buf, n);
}

/* fail sets the operation's error message and returns status. */
static int fail(int status, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n >= (int)sizeof buf) n = sizeof buf - 1;
  host_set_error(buf, n);
  return status;
}

EXPORT("wasmdest_abi_version") int32_t wd_abi_version(void) { return ABI_MAJOR << 16 | ABI_MINOR; }

EXPORT("wasmdest_alloc") void *wd_alloc(int32_t size) { return malloc(size > 0 ? (size_t)size : 1); }

EXPORT("wasmdest_free") void wd_free(void *ptr) { free(ptr); }

/* ---- A little JSON: look up top-level keys of a request header ---- */

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* skip_string skips the string starting at p (at its opening quote). */
static const char *skip_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    if (*p == '\\') p++;
    else if (*p == '"') return p + 1;
  }
  return NULL;
}

/* skip_value skips any JSON value starting at p. */
static const char *skip_value(const char *p, const char *end) {
  p = skip_ws(p, end);
  if (p >= end) return NULL;
  if (*p == '"') return skip_string(p, end);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (p < end) {
      if (*p == '"') {
        if (!(p = skip_string(p, end))) return NULL;
        continue;
      }
      if (*p == '{' || *p == '[') depth++;
      if (*p == '}' || *p == ']') {
        if (--depth == 0) return p + 1;
      }
      p++;
    }
    return NULL;
  }
  while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') p++;
  return p;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int read_hex4(const char *p, const char *end, uint32_t *v) {
  if (end - p < 4) return 0;
  *v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0) return 0;
    *v = *v << 4 | (uint32_t)h;
  }
  return 1;
}

/* decode_string decodes the JSON string at p (its opening quote) into a new
 * NUL-terminated UTF-8 buffer; *len gets its length (it may hold NULs). */
static char *decode_string(const char *p, const char *end, size_t *len) {
  const char *q = skip_string(p, end);
  if (!q) return NULL;
  char *out = malloc((size_t)(q - p) + 1), *o = out;
  if (!out) return NULL;
  for (p++; p < q - 1; p++) {
    if (*p != '\\') {
      *o++ = *p;
      continue;
    }
    p++;
    switch (*p) {
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': {
      uint32_t c, lo;
      if (!read_hex4(p + 1, q, &c)) goto bad;
      p += 4;
      if (c >= 0xD800 && c < 0xDC00 && p + 6 < q && p[1] == '\\' && p[2] == 'u' && read_hex4(p + 3, q, &lo) && lo >= 0xDC00 && lo < 0xE000) {
        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      }
      if (c < 0x80) *o++ = (char)c;
      else if (c < 0x800) { *o++ = (char)(0xC0 | c >> 6); *o++ = (char)(0x80 | (c & 0x3F)); }
      else if (c < 0x10000) { *o++ = (char)(0xE0 | c >> 12); *o++ = (char)(0x80 | (c >> 6 & 0x3F)); *o++ = (char)(0x80 | (c & 0x3F)); }
      else { *o++ = (char)(0xF0 | c >> 18); *o++ = (char)(0x80 | (c >> 12 & 0x3F)); *o++ = (char)(0x80 | (c >> 6 & 0x3F)); *o++ = (char)(0x80 | (c & 0x3F)); }
      break;
    }
    default: *o++ = *p; /* \" \\ \/ */
    }
  }
  *o = 0;
  *len = (size_t)(o - out);
  return out;
bad:
  free(out);
  return NULL;
}

/* json_lookup returns the value of key in the top-level object of js, or
 * NULL. Headers are not NUL-terminated: always pass their length. */
static const char *json_lookup(const char *js, size_t n, const char *key) {
  const char *p = js, *end = js + n;
  size_t klen = strlen(key);
  p = skip_ws(p, end);
  if (p >= end || *p != '{') return NULL;
  p++;
  for (;;) {
    p = skip_ws(p, end);
    if (p >= end || *p != '"') return NULL;
    const char *k = p;
    if (!(p = skip_string(p, end))) return NULL;
    int match = (size_t)(p - k) == klen + 2 && memcmp(k + 1, key, klen) == 0;
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return NULL;
    p = skip_ws(p + 1, end);
    if (match) return p;
    if (!(p = skip_value(p, end))) return NULL;
    p = skip_ws(p, end);
    if (p >= end || *p != ',') return NULL;
    p++;
  }
}

static char *json_string(const char *js, size_t n, const char *key, size_t *len) {
  const char *v = json_lookup(js, n, key);
  if (!v || *v != '"') return NULL;
  return decode_string(v, js + n, len);
}

static int json_int(const char *js, size_t n, const char *key, int64_t *out) {
  const char *v = json_lookup(js, n, key), *end = js + n;
  if (!v) return 0;
  int neg = v < end && *v == '-';
  if (neg) v++;
  int64_t x = 0;
  int digits = 0;
  for (; v < end && *v >= '0' && *v <= '9'; v++, digits++) x = x * 10 + (*v - '0');
  *out = neg ? -x : x;
  return digits > 0;
}

/* ---- Reading the body: input_read until it is exhausted ---- */

enum { R_OK = 0, R_EOF = 1, R_HOST = 2 };

/* read_exact reads n bytes of the operation's body. R_EOF: the body ended
 * first; R_HOST: the host failed (a HostError waits in the result slot). */
static int read_exact(uint8_t *dst, size_t n) {
  size_t got = 0;
  while (got < n) {
    size_t want = n - got;
    if (want > 1 << 30) want = 1 << 30;
    int32_t r = host_input_read(dst + got, (int32_t)want);
    if (r == 0) return R_EOF;
    if (r < 0) return R_HOST;
    got += (size_t)r;
  }
  return R_OK;
}

/* host_error copies the HostError JSON of the result slot into msg. */
static const char *host_error(char *msg, size_t cap) {
  int32_t n = host_result_read(msg, (int32_t)cap - 1);
  msg[n > 0 ? n : 0] = 0;
  return msg;
}

/* ---- Arrow IPC: messages and three fields of their flatbuffers ---- */

enum { HDR_SCHEMA = 1, HDR_DICTIONARY_BATCH = 2, HDR_RECORD_BATCH = 3 };
#define MAX_METADATA (16u << 20)

typedef struct {
  uint8_t *data; /* continuation, length, metadata, body: as received */
  size_t len;
  int type;      /* HDR_* */
  int64_t rows;  /* record batches: their length */
} message;

static int64_t max_body = 64 << 20; /* InitRequest.max_message_bytes */

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static int64_t le64(const uint8_t *p) { return (int64_t)((uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32); }

typedef struct { const uint8_t *b; size_t n; } fbuf;

/* fb_table checks the table at pos and returns its vtable position. */
static int fb_table(fbuf f, size_t pos, size_t *vt, size_t *vtlen) {
  if (pos + 4 > f.n) return 0;
  int64_t v = (int64_t)pos - (int32_t)le32(f.b + pos);
  if (v < 0 || (size_t)v + 4 > f.n) return 0;
  *vt = (size_t)v;
  *vtlen = le16(f.b + *vt);
  return *vtlen >= 4 && *vt + *vtlen <= f.n;
}

/* fb_field returns the position of field i of the table at pos, or 0 when
 * the field is absent; size is its width, checked against the buffer. */
static size_t fb_field(fbuf f, size_t pos, int i, size_t size) {
  size_t vt, vtlen;
  if (!fb_table(f, pos, &vt, &vtlen) || (size_t)(4 + 2 * i + 2) > vtlen) return 0;
  size_t off = le16(f.b + vt + 4 + 2 * i);
  if (off == 0 || pos + off + size > f.n) return 0;
  return pos + off;
}

/* fb_deref follows the offset stored at pos. */
static size_t fb_deref(fbuf f, size_t pos) {
  size_t t = pos + le32(f.b + pos);
  return t < f.n ? t : 0;
}

/* parse_metadata reads a Message's header type, body length and, for a
 * record batch, its row count. */
static int parse_metadata(const uint8_t *meta, size_t n, message *m, int64_t *body) {
  fbuf f = {meta, n};
  if (n < 4) return 0;
  size_t root = le32(meta);
  if (root >= n) return 0;
  size_t p = fb_field(f, root, 1, 1); /* Message.header_type */
  m->type = p ? meta[p] : 0;
  p = fb_field(f, root, 3, 8); /* Message.bodyLength */
  *body = p ? le64(meta + p) : 0;
  if (m->type != HDR_RECORD_BATCH) return 1;
  p = fb_field(f, root, 2, 4); /* Message.header */
  size_t rb = p ? fb_deref(f, p) : 0;
  if (!rb) return 0;
  p = fb_field(f, rb, 0, 8); /* RecordBatch.length */
  m->rows = p ? le64(meta + p) : 0;
  if (fb_field(f, rb, 3, 4)) return -1; /* RecordBatch.compression */
  return 1;
}

/* read_message reads the next message of the body. Returns 1 for a message,
 * 0 at the end-of-stream marker, or minus a status (its error set). */
static int read_message(message *m) {
  uint8_t pfx[8];
  memset(m, 0, sizeof *m);
  int r = read_exact(pfx, 4);
  if (r == R_EOF) return -fail(ST_BAD_REQUEST, "Arrow IPC stream ends without its end-of-stream marker");
  if (r == R_HOST) { char e[512]; return -fail(ST_ERROR, "input_read: %s", host_error(e, sizeof e)); }
  if (le32(pfx) != 0xFFFFFFFFu) return -fail(ST_BAD_REQUEST, "Arrow IPC message without the continuation marker (the pre-1.0 format is not supported)");
  if ((r = read_exact(pfx + 4, 4)) != R_OK) return -fail(ST_BAD_REQUEST, "Arrow IPC stream truncated");
  uint32_t metalen = le32(pfx + 4);
  if (metalen == 0) return 0;
  if (metalen > MAX_METADATA || metalen % 8 != 0) return -fail(ST_BAD_REQUEST, "Arrow IPC metadata of %u bytes: not a multiple of 8 or over 16 MiB", metalen);
  uint8_t *buf = malloc(8 + (size_t)metalen);
  if (!buf) return -fail(ST_ERROR, "out of memory for %u bytes of metadata", metalen);
  memcpy(buf, pfx, 8);
  if (read_exact(buf + 8, metalen) != R_OK) { free(buf); return -fail(ST_BAD_REQUEST, "Arrow IPC stream truncated in metadata"); }
  int64_t body;
  int ok = parse_metadata(buf + 8, metalen, m, &body);
  if (ok <= 0) { free(buf); return -fail(ST_BAD_REQUEST, ok < 0 ? "compressed record batch: the ABI never sends one" : "Arrow IPC message metadata is not a valid flatbuffer"); }
  if (body < 0 || body > max_body || body % 8 != 0) { free(buf); return -fail(ST_BAD_REQUEST, "Arrow IPC message body of %lld bytes (limit %lld, multiple of 8)", (long long)body, (long long)max_body); }
  uint8_t *all = realloc(buf, 8 + (size_t)metalen + (size_t)body);
  if (!all) { free(buf); return -fail(ST_ERROR, "out of memory for a message body of %lld bytes", (long long)body); }
  if (read_exact(all + 8 + metalen, (size_t)body) != R_OK) { free(all); return -fail(ST_BAD_REQUEST, "Arrow IPC stream truncated in a message body"); }
  m->data = all;
  m->len = 8 + (size_t)metalen + (size_t)body;
  return 1;
}

/* ---- The tables this instance holds ---- */

typedef struct table {
  char *name;
  size_t name_len;
  message schema;
  message *batches;
  size_t nbatches, cap;
  int64_t rows;
  struct table *next;
} table;

static table *tables;
static int wrote; /* any write since init: write the counts file at close */

static table *find_table(const char *name, size_t len) {
  for (table *t = tables; t; t = t->next)
    if (t->name_len == len && memcmp(t->name, name, len) == 0) return t;
  return NULL;
}

static const uint8_t eos[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};

/* table_of decodes the "table" of a TableRequest header. */
static char *table_of(const char *hdr, int32_t n, size_t *len) {
  return hdr ? json_string(hdr, (size_t)n, "table", len) : NULL;
}

static int op_write(const char *hdr, int32_t n) {
  size_t len;
  char *name = table_of(hdr, n, &len);
  if (!name) return fail(ST_BAD_REQUEST, "write: header has no table");
  message schema, m, *batches = NULL;
  size_t nb = 0;
  int64_t rows = 0;
  int r = read_message(&schema);
  if (r != 1) { free(name); return r == 0 ? fail(ST_BAD_REQUEST, "write: empty Arrow IPC stream") : -r; }
  if (schema.type != HDR_SCHEMA) { free(name); free(schema.data); return fail(ST_BAD_REQUEST, "write: the stream does not start with a schema"); }
  /* Read the whole batch before keeping any of it: whole or not at all.
   * r ends as 0 (the end-of-stream marker) or a status. */
  while ((r = read_message(&m)) == 1) {
    if (m.type != HDR_RECORD_BATCH) {
      free(m.data);
      r = fail(ST_BAD_REQUEST, "write: message of type %d: only record batches may follow the schema (no dictionaries)", m.type);
      break;
    }
    message *nbs = realloc(batches, (nb + 1) * sizeof *batches);
    if (!nbs) { free(m.data); r = fail(ST_ERROR, "out of memory"); break; }
    batches = nbs;
    batches[nb++] = m;
    rows += m.rows;
  }
  if (r < 0) r = -r;
  table *t = find_table(name, len);
  if (r == 0 && t && (t->schema.len != schema.len || memcmp(t->schema.data, schema.data, schema.len) != 0))
    r = fail(ST_ERROR, "table %s: the schema changed since its first batch; this guest keeps one schema per table (start a new sync)", name);
  if (r == 0 && !t) {
    if (!(t = calloc(1, sizeof *t))) r = fail(ST_ERROR, "out of memory");
    else { t->name = name, t->name_len = len, t->schema = schema, t->next = tables, tables = t, name = NULL, schema.data = NULL; }
  }
  if (r == 0 && t->nbatches + nb > t->cap) {
    size_t cap = (t->nbatches + nb) * 2;
    message *grown = realloc(t->batches, cap * sizeof *grown);
    if (!grown) r = fail(ST_ERROR, "out of memory");
    else t->batches = grown, t->cap = cap;
  }
  if (r != 0) {
    for (size_t i = 0; i < nb; i++) free(batches[i].data);
  } else {
    memcpy(t->batches + t->nbatches, batches, nb * sizeof *batches);
    t->nbatches += nb;
    t->rows += rows;
    wrote = 1;
    logf_(LOG_DEBUG, "table %s: %lld rows in %zu record batches (%lld in all)", t->name, (long long)rows, nb, (long long)t->rows);
  }
  free(batches);
  free(schema.data);
  free(name);
  return r;
}

/* send hands bytes to the host; 1 means the host asked us to stop. */
static int send(const void *p, size_t n) { return host_output(p, (int32_t)n) != 0; }

static int op_read(const char *hdr, int32_t n) {
  size_t len;
  char *name = table_of(hdr, n, &len);
  if (!name) return fail(ST_BAD_REQUEST, "read: header has no table");
  message schema, rest;
  int r = read_message(&schema);
  if (r != 1) { free(name); return r == 0 ? fail(ST_BAD_REQUEST, "read: empty Arrow IPC stream") : -r; }
  if (schema.type != HDR_SCHEMA || (r = read_message(&rest)) != 0) {
    free(name), free(schema.data);
    if (r == 1) free(rest.data);
    return r < 0 ? -r : fail(ST_BAD_REQUEST, "read: the body must be a schema alone");
  }
  table *t = find_table(name, len);
  if (t && (t->schema.len != schema.len || memcmp(t->schema.data, schema.data, schema.len) != 0)) {
    r = fail(ST_ERROR, "table %s: read asks for another schema than the one written; this guest cannot convert", name);
  } else if (send(schema.data, schema.len)) {
    r = ST_CANCELLED;
  } else {
    for (size_t i = 0; t && i < t->nbatches && r == 0; i++)
      if (send(t->batches[i].data, t->batches[i].len)) r = ST_CANCELLED;
    if (r == 0 && send(eos, sizeof eos)) r = ST_CANCELLED;
  }
  if (r == ST_CANCELLED) fail(ST_CANCELLED, "the host asked to stop");
  free(schema.data);
  free(name);
  return r;
}

/* json_escape writes s as a JSON string to f. */
static void json_escape(FILE *f, const char *s, size_t n) {
  fputc('"', f);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

/* op_close writes the row counts to the file the host's expand names. */
static int op_close(void) {
  if (!wrote) return ST_OK;
  static const char req[] = "{\"template\":\"/row-counts-{{SYNC_ID}}-{{UUID}}.json\"}";
  char path[512];
  int64_t n = host_expand(req, sizeof req - 1);
  if (n < 0) { char e[512]; host_result_read(e, (int32_t)(-n < 511 ? -n : 511)); e[-n < 511 ? -n : 511] = 0; return fail(ST_ERROR, "expand: %s", e); }
  if (n >= (int64_t)sizeof path) return fail(ST_ERROR, "expand: path of %lld bytes", (long long)n);
  host_result_read(path, (int32_t)n);
  path[n] = 0;
  FILE *f = fopen(path, "w");
  if (!f) return fail(ST_ERROR, "create %s: %s (is the filesystem capability granted?)", path, strerror(errno));
  fputs("{\"tables\":{", f);
  for (table *t = tables; t; t = t->next) {
    json_escape(f, t->name, t->name_len);
    fprintf(f, ":%lld%s", (long long)t->rows, t->next ? "," : "");
  }
  fputs("}}\n", f);
  if (fclose(f) != 0) return fail(ST_ERROR, "write %s: %s", path, strerror(errno));
  logf_(LOG_INFO, "row counts written to %s", path);
  return ST_OK;
}

static int op_init(const char *hdr, int32_t n) {
  if (!hdr) return fail(ST_BAD_REQUEST, "init: no header");
  int64_t v;
  if (json_int(hdr, (size_t)n, "max_message_bytes", &v) && v > 0) max_body = v;
  size_t len;
  char *mode = json_string(hdr, (size_t)n, "write_mode", &len);
  int bad = mode && strcmp(mode, "append") != 0;
  if (bad) fail(ST_ERROR, "write_mode %s: this guest only appends", mode);
  free(mode);
  return bad ? ST_ERROR : ST_OK;
}

EXPORT("wasmdest_call") int32_t wd_call(int32_t op, const char *hdr, int32_t len) {
  switch (op) {
  case OP_MANIFEST:
    return send(manifest, sizeof manifest - 1) ? ST_CANCELLED : ST_OK;
  case OP_INIT:
    return op_init(hdr, len);
  case OP_WRITE:
    return op_write(hdr, len);
  case OP_READ:
    return op_read(hdr, len);
  case OP_CLOSE:
    return op_close();
  default: /* describe, migrate, delete_stale, and ops of later ABI versions */
    return ST_UNSUPPORTED;
  }
}
