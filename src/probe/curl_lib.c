/* curl_lib: one dlopen() and a dlsym() per function (see curl_lib.h). */
#include "probe/curl_lib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Each table slot with the name it is looked up by. */
#define SYM(field, name)                                                                           \
	{                                                                                          \
		offsetof(struct curl_lib, field), #name                                            \
	}
static const struct {
	size_t offset;
	const char *name;
} syms[] = {
    SYM(global_init, curl_global_init),
    SYM(global_cleanup, curl_global_cleanup),
    SYM(easy_init, curl_easy_init),
    SYM(easy_reset, curl_easy_reset),
    SYM(easy_cleanup, curl_easy_cleanup),
    SYM(easy_setopt, curl_easy_setopt),
    SYM(easy_getinfo, curl_easy_getinfo),
    SYM(easy_strerror, curl_easy_strerror),
    SYM(multi_init, curl_multi_init),
    SYM(multi_cleanup, curl_multi_cleanup),
    SYM(multi_setopt, curl_multi_setopt),
    SYM(multi_assign, curl_multi_assign),
    SYM(multi_add_handle, curl_multi_add_handle),
    SYM(multi_remove_handle, curl_multi_remove_handle),
    SYM(multi_socket_action, curl_multi_socket_action),
    SYM(multi_info_read, curl_multi_info_read),
    SYM(slist_append, curl_slist_append),
    SYM(slist_free_all, curl_slist_free_all),
};
#undef SYM

/* Every slot is a function pointer named in syms[]. */
_Static_assert(sizeof(syms) / sizeof(syms[0]) == sizeof(struct curl_lib) / sizeof(void (*)(void)),
	       "every curl_lib function has its name in syms[]");

int curl_lib_open(const char *soname, struct curl_lib *ret, char *why, size_t whylen)
{
	/* RTLD_LOCAL: curl's symbols stay out of the global namespace. */
	void *dl = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!dl) {
		const char *e = dlerror();
		snprintf(why, whylen, "%s", e ? e : soname);
		return -ENOENT;
	}

	struct curl_lib lib;
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(dl, syms[i].name);
		if (!f) {
			snprintf(why, whylen, "%s has no %s: not a libcurl", soname, syms[i].name);
			dlclose(dl);
			return -ENOSYS;
		}
		/* POSIX: a data pointer from dlsym() converts to a function pointer. */
		memcpy((char *)&lib + syms[i].offset, &f, sizeof(f));
	}
	*ret = lib;
	return 0;
}
