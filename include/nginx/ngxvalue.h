/* ngxvalue: nginx's syntax for the values of directives.
 *
 * Pure functions over one argument as written, shared by everything that
 * reads the directive tree: time and size values, and nginx's word for a
 * bad address. Nothing here knows the model. */
#pragma once

#include <stdint.h>

/* The largest number nginx's ngx_atoi accepts in a directive. */
#define NGX_UINT_MAX 0x7fffffff

/* nginx's time and size syntax: "500ms", "30s", "1m30s", "1h 30m", bare
 * number = seconds; "4k", "1m", bare number = bytes. -EINVAL / -ERANGE. */
int ngxvalue_time_ms(const char *s, uint64_t *ret_ms);
int ngxvalue_size(const char *s, uint64_t *ret);

/* nginx's word for what is wrong with an address: "invalid port" or
 * "invalid host" (as in "invalid port in upstream \"...\""). */
const char *ngxvalue_addr_error(const char *addr);
