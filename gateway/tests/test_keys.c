/* Key files: generated 0600, refused when group/other may read them, bad content named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static char dir[] = "/tmp/embark-keys-XXXXXX";

static void test_keygen_and_load(void **st) {
  (void)st;
  char path[256], err[512];
  snprintf(path, sizeof path, "%s/k", dir);
  assert_int_equal(embark_keygen_file(path, err, sizeof err), 0);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  embark_keys *k = embark_keys_load(path, err, sizeof err);
  assert_non_null(k);
  embark_keys_free(k);
  /* never overwrites */
  assert_int_equal(embark_keygen_file(path, err, sizeof err), -1);
  assert_non_null(strstr(err, path));
  /* refuses a group-readable key, naming the mode */
  chmod(path, 0640);
  assert_null(embark_keys_load(path, err, sizeof err));
  assert_non_null(strstr(err, "0640"));
  chmod(path, 0604);
  assert_null(embark_keys_load(path, err, sizeof err));
  unlink(path);
}

static void test_bad_key_files(void **st) {
  (void)st;
  char path[256], err[512];
  snprintf(path, sizeof path, "%s/bad", dir);
  const char *bad[] = {"", "abc\n", "zz00000000000000000000000000000000000000000000000000000000000000\n",
                       "000000000000000000000000000000000000000000000000000000000000000000\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    FILE *f = fopen(path, "w");
    fputs(bad[i], f);
    fclose(f);
    chmod(path, 0600);
    err[0] = 0;
    assert_null(embark_keys_load(path, err, sizeof err));
    assert_non_null(strstr(err, "not an Embark key file"));
    unlink(path);
  }
  assert_null(embark_keys_load("/nonexistent/key", err, sizeof err));
  assert_null(embark_keys_load(dir, err, sizeof err)); /* a directory */
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_keygen_and_load), cmocka_unit_test(test_bad_key_files)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  rmdir(dir);
  return rc;
}
