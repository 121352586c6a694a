/* Unit tests for problems: rebuilds tell new problems from known ones and
 * report the ones that went away; the JSON and counts by kind. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "output/problems.h"

static int gone_count;
static char gone_subject[64];

static void gone(void *ud, const struct problem *pr)
{
	(void)ud;
	gone_count++;
	snprintf(gone_subject, sizeof(gone_subject), "%s", pr->subject);
}

static void test_rebuild_marks_new_and_reports_gone(void)
{
	struct problems p;
	problems_init(&p);
	problems_begin(&p);
	problems_add(&p, PROBLEM_ERROR_LOG, "/var/log/nginx/error.log", "cannot open: %s",
		     "Permission denied");
	problems_add(&p, PROBLEM_STATE_DIR, "/var/lib/upwatch", "cannot write");
	problems_add(&p, PROBLEM_ERROR_LOG, "/var/log/nginx/error.log", "repeat ignored");
	problems_end(&p, gone, NULL);
	CHECK_INT(p.n, 2);
	CHECK(p.v[0].is_new && p.v[1].is_new);
	CHECK_STR(p.v[0].message, "cannot open: Permission denied");
	CHECK_INT(problems_count(&p, PROBLEM_ERROR_LOG), 1);
	CHECK_INT(problems_count(&p, PROBLEM_CONFIG), 0);

	/* the same log again, the state directory fixed */
	problems_begin(&p);
	problems_add(&p, PROBLEM_ERROR_LOG, "/var/log/nginx/error.log", "cannot open: %s",
		     "Permission denied");
	problems_end(&p, gone, NULL);
	CHECK_INT(p.n, 1);
	CHECK(!p.v[0].is_new); /* warned once, not at every rebuild */
	CHECK_INT(gone_count, 1);
	CHECK_STR(gone_subject, "/var/lib/upwatch");

	/* a different failure of the same log is news */
	problems_begin(&p);
	problems_add(&p, PROBLEM_ERROR_LOG, "/var/log/nginx/error.log", "cannot read: %s",
		     "Input/output error");
	problems_end(&p, gone, NULL);
	CHECK(p.v[0].is_new);

	cJSON *j = problems_json(&p);
	char *s = cJSON_PrintUnformatted(j);
	CHECK_STR(s, "[{\"kind\":\"error_log\",\"subject\":\"/var/log/nginx/error.log\","
		     "\"message\":\"cannot read: Input/output error\"}]");
	free(s);
	cJSON_Delete(j);
	problems_done(&p);
}

int main(void)
{
	RUN(test_rebuild_marks_new_and_reports_gone);
	return harness_result();
}
