/* test_validate_cases.c: runs validate_file over every case of the corpus in tests/data/validate
 * (cases.txt, written by make_cases.py with hand-written expectations) and checks the verdict,
 * the numbers of errors and warnings, and each expected problem: its line, code and exact
 * formatted message. tests/cli/validate_cases.sh checks the same corpus through the binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/text_model.h"
#include "data/validate.h"
#include "test.h"

#define CASES_DIR "tests/data/validate"
#define CASES_MIN_FILES 40
#define CASE_LINE_MAX 4096
#define CASE_FIELDS 8

typedef struct {
    char *f[CASE_FIELDS]; /* file args exit errors warnings line code message */
} CaseRow;

static int split_row(char *line, CaseRow *row) {
    line[strcspn(line, "\n")] = 0;
    int n = 0;
    for (char *p = line; n < CASE_FIELDS; n++) {
        row->f[n] = p;
        char *tab = strchr(p, '\t');
        if (!tab) {
            n++;
            break;
        }
        *tab = 0;
        p = tab + 1;
    }
    return n;
}

/* Applies "--method dpo", "--model PATH", "--max-length N", "--max-problems N". Returns 0, 1 to
 * skip (model missing), -1 when the arguments are not understood. */
static int apply_args(const char *args, ValidateOptions *opt, TextModel **tm) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", args);
    char *save, *tok = strtok_r(buf, " ", &save);
    while (tok) {
        char *val = strtok_r(NULL, " ", &save);
        if (!val) return -1;
        if (strcmp(tok, "--method") == 0)
            opt->method = strcmp(val, "dpo") == 0 ? VALIDATE_DPO : VALIDATE_SUPERVISED;
        else if (strcmp(tok, "--max-length") == 0)
            opt->max_length = atol(val);
        else if (strcmp(tok, "--max-problems") == 0)
            opt->max_problems = atol(val);
        else if (strcmp(tok, "--model") == 0) {
            if (access(val, R_OK) != 0) return 1;
            Err err = {0};
            if (text_model_load(val, tm, &err)) {
                test_fail(__FILE__, __LINE__, "%s: %s", val, err.msg);
                return -1;
            }
            opt->model = *tm;
        } else
            return -1;
        tok = strtok_r(NULL, " ", &save);
    }
    return 0;
}

TEST(validate_corpus_cases) {
    FILE *man = fopen(CASES_DIR "/cases.txt", "r");
    REQUIRE(man != NULL);
    char line[CASE_LINE_MAX], last_file[CASE_LINE_MAX] = "";
    int files = 0, rows = 0, invalid_single = 0;
    ValidateReport rep = {0};
    bool have_rep = false, skipping = false;
    TextModel *tm = NULL;
    while (fgets(line, sizeof line, man)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        CaseRow row;
        if (split_row(line, &row) != CASE_FIELDS) {
            test_fail(__FILE__, __LINE__, "malformed manifest row: %s", line);
            continue;
        }
        const char *file = row.f[0], *args = row.f[1];
        long want_exit = atol(row.f[2]), want_err = atol(row.f[3]), want_warn = atol(row.f[4]);
        rows++;
        if (strcmp(file, last_file) != 0) { /* a new file: validate it */
            snprintf(last_file, sizeof last_file, "%s", file);
            if (have_rep) validate_report_free(&rep);
            text_model_free(tm);
            tm = NULL;
            have_rep = false;
            ValidateOptions opt;
            validate_options_default(&opt);
            int a = strcmp(args, "-") == 0 ? 0 : apply_args(args, &opt, &tm);
            skipping = a != 0;
            if (a < 0) test_fail(__FILE__, __LINE__, "%s: bad args '%s'", file, args);
            if (skipping) continue;
            char path[CASE_LINE_MAX + 32];
            snprintf(path, sizeof path, CASES_DIR "/%s", file);
            Err err = {0};
            if (validate_file(path, &opt, &rep, &err)) {
                test_fail(__FILE__, __LINE__, "%s: %s", file, err.msg);
                validate_report_free(&rep);
                skipping = true;
                continue;
            }
            have_rep = true;
            files++;
            if (want_exit == 1 && want_err == 1) invalid_single++;
            long exit_status = rep.errors ? 1 : 0;
            if (exit_status != want_exit || rep.errors != want_err || rep.warnings != want_warn) {
                test_fail(__FILE__, __LINE__, "%s: exit %ld, %ld errors, %ld warnings; expected %ld, %ld, %ld", file,
                          exit_status, rep.errors, rep.warnings, want_exit, want_err, want_warn);
                char text[1024];
                for (long i = 0; i < rep.n_problems; i++)
                    fprintf(stderr, "      got: %s\n", validate_problem_format(&rep.problems[i], text, sizeof text));
            }
        }
        if (skipping || strcmp(row.f[5], "-") == 0) continue;
        long want_line = atol(row.f[5]);
        const char *want_code = row.f[6], *want_msg = row.f[7];
        bool found = false;
        char text[1024];
        for (long i = 0; i < rep.n_problems && !found; i++) {
            const ValidateProblem *p = &rep.problems[i];
            found = p->line == want_line && strcmp(p->code, want_code) == 0 &&
                    strcmp(validate_problem_format(p, text, sizeof text), want_msg) == 0;
        }
        if (!found) {
            test_fail(__FILE__, __LINE__, "%s: no problem [%s] %s", file, want_code, want_msg);
            for (long i = 0; i < rep.n_problems; i++)
                fprintf(stderr, "      got: [%s] %s\n", rep.problems[i].code,
                        validate_problem_format(&rep.problems[i], text, sizeof text));
        }
    }
    fclose(man);
    if (have_rep) validate_report_free(&rep);
    text_model_free(tm);
    printf("    %d files, %d expectations, %d invalid files with exactly one error\n", files, rows, invalid_single);
    CHECK(files >= CASES_MIN_FILES);
    CHECK(invalid_single >= CASES_MIN_FILES);
}
