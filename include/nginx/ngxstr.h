/* ngxstr: the model's string pool.
 *
 * Every string of a *_pass and an upstream server is stored once per model,
 * packed into large chunks: a configuration with 10,000 locations repeats
 * "proxy_pass", "http", "error timeout" and each server_name thousands of
 * times, and a malloc'ed copy of each costs at least 24 bytes plus the
 * string. Strings live until ngxstr_free(); nobody frees one alone. */
#pragma once

#include <stddef.h>

struct ngxstr;

struct ngxstr *ngxstr_new(void);
void ngxstr_free(struct ngxstr *pool);
/* The pool's copy of s (NULL for NULL). */
const char *ngxstr_intern(struct ngxstr *pool, const char *s);
const char *ngxstr_intern_n(struct ngxstr *pool, const char *s, size_t len);
