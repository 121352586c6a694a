/* ini: a line reader for php-fpm's and uwsgi's configuration (see ini.h). */
#include "backend/ini.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static char *unquote(char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
		s[n - 1] = '\0';
		return s + 1;
	}
	return s;
}

int ini_read(const char *path, size_t max, bool hash_comments, ini_fn fn, void *ud)
{
	char *data;
	size_t len;
	int r = read_regular_file(path, max, &data, &len);
	if (r < 0)
		return r;
	char section[128] = "";
	unsigned line = 0;
	r = 0;
	for (char *p = data, *next; p && r == 0; p = next) {
		line++;
		next = strchr(p, '\n');
		if (next)
			*next++ = '\0';
		char *s = trim(p);
		if (*s == '\0' || *s == ';' || (hash_comments && *s == '#'))
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (e) {
				*e = '\0';
				snprintf(section, sizeof(section), "%s", trim(s + 1));
			}
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq)
			continue;
		*eq = '\0';
		r = fn(ud, section, trim(s), unquote(trim(eq + 1)), line);
	}
	free(data);
	return r;
}
