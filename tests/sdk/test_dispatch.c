/*
 * test_dispatch.c: struct ps__dispatcher (src/sdk/dispatch.c): order of due
 * jobs, delays, shutdown (cancel of queued jobs, waiting for a running job,
 * free hooks, freeing from inside a job) and the APP mode's fd and readiness
 * callback.
 *
 * No assertion depends on how fast the machine is: waits use condition
 * variables or poll() with generous timeouts, and delays are only checked as
 * lower bounds, which the dispatcher guarantees.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sdk/sdk_internal.h"

/* Long enough for a loaded sanitizer build, short enough to fail a hang. */
#define WAIT_MS 10000

/* ---- A recorder shared by jobs and the test thread ---------------------- */

struct rec {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int order[256];
  int n;
  int cancelled;
  int hooks;
  int ready_calls;
  pthread_t thread; /* Where the last job ran. */
  int64_t ran_at_ms;
};

struct job_arg {
  struct rec *rec;
  int id;
};

static void rec_init(struct rec *r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
}

static void rec_destroy(struct rec *r) {
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
}

/* Waits until *counter >= want or WAIT_MS passed; returns the value. */
static int rec_wait(struct rec *r, const int *counter, int want) {
  struct timespec ts;
  int v;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&r->mu);
  while (*counter < want) {
    if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0)
      break;
  }
  v = *counter;
  pthread_mutex_unlock(&r->mu);
  return v;
}

static void record_job(void *arg) {
  struct job_arg *a = arg;
  pthread_mutex_lock(&a->rec->mu);
  a->rec->order[a->rec->n++] = a->id;
  a->rec->thread = pthread_self();
  a->rec->ran_at_ms = ps__now_ms();
  pthread_cond_broadcast(&a->rec->cv);
  pthread_mutex_unlock(&a->rec->mu);
}

static void record_cancel(void *arg) {
  struct job_arg *a = arg;
  pthread_mutex_lock(&a->rec->mu);
  a->rec->cancelled++;
  pthread_mutex_unlock(&a->rec->mu);
}

static int fd_readable(int fd, int timeout_ms) {
  struct pollfd p;
  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* ---- THREAD mode -------------------------------------------------------- */

static void thread_runs_due_jobs_in_post_order(void **state) {
  struct ps__dispatcher *d = ps__dispatcher_new(POWERSYNC_DISPATCH_THREAD);
  struct rec r;
  struct job_arg args[100];
  int i;
  (void)state;
  rec_init(&r);
  assert_non_null(d);
  assert_int_equal(ps__dispatcher_fd(d), -1);
  for (i = 0; i < 100; i++) {
    args[i].rec = &r;
    args[i].id = i;
    assert_int_equal(
        ps__dispatcher_post(d, 0, record_job, record_cancel, &args[i]), 0);
  }
  assert_int_equal(rec_wait(&r, &r.n, 100), 100);
  for (i = 0; i < 100; i++)
    assert_int_equal(r.order[i], i);
  assert_false(pthread_equal(r.thread, pthread_self()));
  ps__dispatcher_free(d);
  assert_int_equal(r.cancelled, 0);
  rec_destroy(&r);
}

static void thread_delayed_job_waits_for_due_time(void **state) {
  struct ps__dispatcher *d = ps__dispatcher_new(POWERSYNC_DISPATCH_THREAD);
  struct rec r;
  struct job_arg late = {NULL, 1}, early = {NULL, 2};
  int64_t posted;
  (void)state;
  rec_init(&r);
  late.rec = early.rec = &r;
  posted = ps__now_ms();
  assert_int_equal(ps__dispatcher_post(d, 80, record_job, NULL, &late), 0);
  assert_int_equal(ps__dispatcher_post(d, 0, record_job, NULL, &early), 0);
  assert_int_equal(rec_wait(&r, &r.n, 2), 2);
  /* The later-posted job was due first, so it ran first. */
  assert_int_equal(r.order[0], 2);
  assert_int_equal(r.order[1], 1);
  assert_true(r.ran_at_ms - posted >= 80);
  ps__dispatcher_free(d);
  rec_destroy(&r);
}

static void free_cancels_queued_jobs(void **state) {
  struct ps__dispatcher *d = ps__dispatcher_new(POWERSYNC_DISPATCH_THREAD);
  struct rec r;
  struct job_arg a = {NULL, 1}, b = {NULL, 2};
  (void)state;
  rec_init(&r);
  a.rec = b.rec = &r;
  /* An hour: the jobs are still queued when the dispatcher is freed. */
  assert_int_equal(
      ps__dispatcher_post(d, 3600000, record_job, record_cancel, &a), 0);
  assert_int_equal(ps__dispatcher_post(d, 3600000, record_job, NULL, &b), 0);
  ps__dispatcher_free(d);
  assert_int_equal(r.n, 0);
  assert_int_equal(r.cancelled, 1); /* b had no cancel function. */
  rec_destroy(&r);
}

struct slow_arg {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int entered;
  int finished;
};

static void slow_job(void *arg) {
  struct slow_arg *s = arg;
  struct timespec nap = {0, 100 * 1000000L};
  pthread_mutex_lock(&s->mu);
  s->entered = 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  nanosleep(&nap, NULL);
  pthread_mutex_lock(&s->mu);
  s->finished = 1;
  pthread_mutex_unlock(&s->mu);
}

static void free_waits_for_running_job(void **state) {
  struct ps__dispatcher *d = ps__dispatcher_new(POWERSYNC_DISPATCH_THREAD);
  struct slow_arg s;
  (void)state;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cv, NULL);
  assert_int_equal(ps__dispatcher_post(d, 0, slow_job, NULL, &s), 0);
  pthread_mutex_lock(&s.mu);
  while (!s.entered)
    pthread_cond_wait(&s.cv, &s.mu);
  pthread_mutex_unlock(&s.mu);
  ps__dispatcher_free(d);
  pthread_mutex_lock(&s.mu);
  assert_int_equal(s.finished, 1);
  pthread_mutex_unlock(&s.mu);
  pthread_cond_destroy(&s.cv);
  pthread_mutex_destroy(&s.mu);
}

struct hook_arg {
  struct rec *rec;
  struct ps__dispatcher *d;
  int post_rc;
};

static void hook_fn(void *arg) {
  struct hook_arg *h = arg;
  /* The dispatcher is going away: posting is refused. */
  h->post_rc = ps__dispatcher_post(h->d, 0, record_job, NULL, NULL);
  pthread_mutex_lock(&h->rec->mu);
  h->rec->hooks++;
  pthread_mutex_unlock(&h->rec->mu);
}

static void free_calls_hooks_after_cancelling(void **state) {
  struct ps__dispatcher *d = ps__dispatcher_new(POWERSYNC_DISPATCH_THREAD);
  struct rec r;
  struct hook_arg kept, removed;
  struct job_arg a = {NULL, 1};
  uint64_t id_kept = 0, id_removed = 0;
  (void)state;
  rec_init(&r);
  a.rec = &r;
  kept.rec = removed.rec = &r;
  kept.d = removed.d = d;
  kept.post_rc = removed.post_rc = 0;
  assert_int_equal(ps__dispatcher_add_free_hook(d, hook_fn, &kept, &id_kept),
                   0);
  assert_int_equal(
      ps__dispatcher_add_free_hook(d, hook_fn, &removed, &id_removed), 0);
  assert_true(id_kept != id_removed);
  ps__dispatcher_remove_free_hook(d, id_removed);
  assert_int_equal(
      ps__dispatcher_post(d, 3600000, record_job, record_cancel, &a), 0);
  ps__dispatcher_free(d);
  assert_int_equal(r.hooks, 1);
  assert_int_equal(r.cancelled, 1);
  assert_int_equal(kept.post_rc, POWERSYNC_ECLOSED);
  rec_destroy(&r);
}

struct in_job_arg {
  struct rec *rec;
  struct ps__dispatcher *d;
  int in_job;
};

static void in_job_fn(void *arg) {
  struct in_job_arg *a = arg;
  a->in_job = ps__dispatcher_in_job(a->d);
  pthread_mutex_lock(&a->rec->mu);
  a->rec->n++;
  pthread_cond_broadcast(&a->rec->cv);
  pthread_mutex_unlock(&a->rec->mu);
}

static void in_job_is_true_only_inside_jobs(void **state) {
  struct ps__dispatcher *d = ps__dispatcher_new(POWERSYNC_DISPATCH_THREAD);
  struct rec r;
  struct in_job_arg a;
  (void)state;
  rec_init(&r);
  a.rec = &r;
  a.d = d;
  a.in_job = 0;
  assert_int_equal(ps__dispatcher_in_job(d), 0);
  assert_int_equal(ps__dispatcher_post(d, 0, in_job_fn, NULL, &a), 0);
  assert_int_equal(rec_wait(&r, &r.n, 1), 1);
  assert_int_equal(a.in_job, 1);
  assert_int_equal(ps__dispatcher_in_job(d), 0);
  ps__dispatcher_free(d);
  rec_destroy(&r);
}

/* ---- APP mode ----------------------------------------------------------- */

static void app_fd_tracks_due_jobs(void **state) {
  struct ps__dispatcher *d = ps__dispatcher_new(POWERSYNC_DISPATCH_APP);
  struct rec r;
  struct job_arg args[3];
  int i, fd;
  (void)state;
  rec_init(&r);
  fd = ps__dispatcher_fd(d);
  assert_true(fd >= 0);
  assert_false(fd_readable(fd, 0));
  for (i = 0; i < 3; i++) {
    args[i].rec = &r;
    args[i].id = i;
    assert_int_equal(ps__dispatcher_post(d, 0, record_job, NULL, &args[i]), 0);
  }
  assert_true(fd_readable(fd, WAIT_MS));
  /* Jobs run on this thread, a bounded number at a time; the fd stays
   * readable while due jobs remain. */
  assert_int_equal(ps__dispatcher_run(d, 1), 1);
  assert_true(pthread_equal(r.thread, pthread_self()));
  assert_true(fd_readable(fd, 0));
  assert_int_equal(ps__dispatcher_run(d, 0), 2);
  assert_false(fd_readable(fd, 0));
  assert_int_equal(ps__dispatcher_run(d, 0), 0);
  for (i = 0; i < 3; i++)
    assert_int_equal(r.order[i], i);
  ps__dispatcher_free(d);
  rec_destroy(&r);
}

static void app_fd_wakes_for_delayed_job(void **state) {
  struct ps__dispatcher *d = ps__dispatcher_new(POWERSYNC_DISPATCH_APP);
  struct rec r;
  struct job_arg a = {NULL, 7};
  int64_t posted;
  int fd;
  (void)state;
  rec_init(&r);
  a.rec = &r;
  fd = ps__dispatcher_fd(d);
  posted = ps__now_ms();
  assert_int_equal(ps__dispatcher_post(d, 60, record_job, NULL, &a), 0);
  /* Not due yet: nothing runs. */
  assert_int_equal(ps__dispatcher_run(d, 0), 0);
  assert_true(fd_readable(fd, WAIT_MS));
  assert_true(ps__now_ms() - posted >= 60);
  assert_int_equal(ps__dispatcher_run(d, 0), 1);
  assert_int_equal(r.order[0], 7);
  assert_false(fd_readable(fd, 0));
  ps__dispatcher_free(d);
  rec_destroy(&r);
}

static void on_ready(void *user_data) {
  struct rec *r = user_data;
  pthread_mutex_lock(&r->mu);
  r->ready_calls++;
  r->thread = pthread_self();
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

static void app_ready_callback_announces_jobs(void **state) {
  struct ps__dispatcher *d = ps__dispatcher_new(POWERSYNC_DISPATCH_APP);
  struct rec r, jobs;
  struct job_arg a = {NULL, 1}, b = {NULL, 2};
  (void)state;
  rec_init(&r);
  rec_init(&jobs);
  a.rec = b.rec = &jobs;
  ps__dispatcher_set_ready(d, on_ready, &r);
  assert_int_equal(ps__dispatcher_post(d, 0, record_job, NULL, &a), 0);
  assert_int_equal(rec_wait(&r, &r.ready_calls, 1), 1);
  assert_false(pthread_equal(r.thread, pthread_self()));
  assert_int_equal(ps__dispatcher_run(d, 0), 1);
  /* Delivered everything: the next job is announced again. */
  assert_int_equal(ps__dispatcher_post(d, 20, record_job, NULL, &b), 0);
  assert_int_equal(rec_wait(&r, &r.ready_calls, 2), 2);
  assert_int_equal(ps__dispatcher_run(d, 0), 1);
  assert_int_equal(jobs.n, 2);
  ps__dispatcher_free(d);
  rec_destroy(&r);
  rec_destroy(&jobs);
}

struct self_free_arg {
  struct ps__dispatcher *d;
  struct rec *rec;
};

static void self_free_job(void *arg) {
  struct self_free_arg *a = arg;
  ps__dispatcher_free(a->d); /* Must not wait for itself. */
  pthread_mutex_lock(&a->rec->mu);
  a->rec->n++;
  pthread_mutex_unlock(&a->rec->mu);
}

static void app_free_from_inside_a_job(void **state) {
  struct ps__dispatcher *d = ps__dispatcher_new(POWERSYNC_DISPATCH_APP);
  struct rec r;
  struct self_free_arg a;
  struct job_arg queued = {NULL, 9};
  (void)state;
  rec_init(&r);
  a.d = d;
  a.rec = &r;
  queued.rec = &r;
  assert_int_equal(ps__dispatcher_post(d, 0, self_free_job, NULL, &a), 0);
  assert_int_equal(
      ps__dispatcher_post(d, 0, record_job, record_cancel, &queued), 0);
  assert_true(fd_readable(ps__dispatcher_fd(d), WAIT_MS));
  /* Runs the first job, which frees d; the second is cancelled, not run. */
  assert_int_equal(ps__dispatcher_run(d, 0), 1);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.cancelled, 1);
  rec_destroy(&r);
}

static void app_run_is_refused_in_thread_mode(void **state) {
  struct ps__dispatcher *d = ps__dispatcher_new(POWERSYNC_DISPATCH_THREAD);
  (void)state;
  assert_int_equal(ps__dispatcher_run(d, 0), 0);
  ps__dispatcher_free(d);
  ps__dispatcher_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(thread_runs_due_jobs_in_post_order),
      cmocka_unit_test(thread_delayed_job_waits_for_due_time),
      cmocka_unit_test(free_cancels_queued_jobs),
      cmocka_unit_test(free_waits_for_running_job),
      cmocka_unit_test(free_calls_hooks_after_cancelling),
      cmocka_unit_test(in_job_is_true_only_inside_jobs),
      cmocka_unit_test(app_fd_tracks_due_jobs),
      cmocka_unit_test(app_fd_wakes_for_delayed_job),
      cmocka_unit_test(app_ready_callback_announces_jobs),
      cmocka_unit_test(app_free_from_inside_a_job),
      cmocka_unit_test(app_run_is_refused_in_thread_mode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
