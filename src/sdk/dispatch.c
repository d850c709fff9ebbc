/*
 * dispatch.c: where the database's callbacks run (struct ps__dispatcher), and
 * the public dispatch functions of db.h (powersync_db_dispatch and friends).
 *
 * A dispatcher is a queue of jobs, each a function with an argument and a due
 * time. Jobs run one at a time; due jobs run in the order of their due time,
 * and jobs due at the same time in the order they were posted. Delayed jobs
 * are how watches throttle.
 *
 * HOW IT WORKS
 *
 * Every dispatcher owns one thread that sleeps on a condition variable until
 * the earliest queued job is due (or a post wakes it):
 *
 * - POWERSYNC_DISPATCH_THREAD: the thread pops due jobs and runs them itself,
 *   with the mutex released, so a job may post more jobs or use the database.
 *
 * - POWERSYNC_DISPATCH_APP: jobs run inside ps__dispatcher_run on the
 *   application's thread. The thread only announces them: when a job is due
 *   and nothing was announced yet, it makes the readiness fd readable (an
 *   eventfd on Linux, a pipe elsewhere) and calls the readiness callback.
 *   Because the thread also wakes when a delayed job falls due, a throttled
 *   watch wakes an event loop without the loop managing timers. The fd stays
 *   readable until a ps__dispatcher_run leaves no due job behind; only then is
 *   it drained, so an application that runs a few jobs at a time is woken
 *   again.
 *
 * Shutdown (ps__dispatcher_free) stops the thread, waits for a job running on
 * another thread, drops the queued jobs through their cancel functions and
 * then calls the free hooks, so objects that keep a pointer to the dispatcher
 * (watches) learn that it is gone. Called from inside a job (a callback that
 * closes its database), it cannot wait for itself: the job's runner frees the
 * dispatcher when the job returns.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/eventfd.h>
#else
#include <fcntl.h>
#endif

#include "sdk_internal.h"

struct dispatch_job {
  struct dispatch_job *next;
  int64_t due_ms;
  uint64_t seq; /* Post order: ties of due_ms run first-posted first. */
  void (*fn)(void *arg);
  void (*cancel)(void *arg);
  void *arg;
};

struct dispatch_hook {
  struct dispatch_hook *next;
  uint64_t id;
  void (*fn)(void *arg);
  void *arg;
};

struct ps__dispatcher {
  powersync_dispatch_mode mode;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* Queue changed, a job finished, or stopping. */
  pthread_t thread;
  int thread_started;

  struct dispatch_job *jobs; /* Sorted by (due_ms, seq). */
  uint64_t next_seq;
  struct dispatch_hook *hooks;
  uint64_t next_hook_id;

  int stopping;     /* ps__dispatcher_free has begun. */
  int free_pending; /* Freed from inside a job: the runner frees d. */
  int running;      /* A job is running on job_thread. */
  pthread_t job_thread;

  /* APP mode. */
  int announced; /* fd readable and ready callback called for due jobs. */
  int fd_read;   /* Polled by the application. */
  int fd_write;  /* Same as fd_read for an eventfd. */
  powersync_dispatch_ready_cb ready_cb;
  void *ready_user_data;
};

int64_t ps__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- The readiness fd (APP mode) --------------------------------------- */

static int dispatch_fd_open(struct ps__dispatcher *d) {
#ifdef __linux__
  d->fd_read = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  d->fd_write = d->fd_read;
  return d->fd_read < 0 ? -1 : 0;
#else
  int fds[2];
  int i;
  if (pipe(fds) != 0)
    return -1;
  for (i = 0; i < 2; i++) {
    fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    fcntl(fds[i], F_SETFD, FD_CLOEXEC);
  }
  d->fd_read = fds[0];
  d->fd_write = fds[1];
  return 0;
#endif
}

static void dispatch_fd_close(struct ps__dispatcher *d) {
  if (d->fd_read >= 0)
    close(d->fd_read);
  if (d->fd_write >= 0 && d->fd_write != d->fd_read)
    close(d->fd_write);
  d->fd_read = d->fd_write = -1;
}

/* Makes fd_read readable. A full eventfd counter or pipe already is. */
static void dispatch_fd_signal(struct ps__dispatcher *d) {
#ifdef __linux__
  uint64_t one = 1;
  ssize_t n = write(d->fd_write, &one, sizeof one);
#else
  char one = 1;
  ssize_t n = write(d->fd_write, &one, 1);
#endif
  (void)n;
}

/* Empties fd_read; the fd is non-blocking, so this stops at EAGAIN. */
static void dispatch_fd_drain(struct ps__dispatcher *d) {
  char buf[64];
  while (read(d->fd_read, buf, sizeof buf) > 0) {
  }
}

/* ---- The queue (callers hold d->mu) ------------------------------------- */

static int dispatch_has_due(const struct ps__dispatcher *d, int64_t now) {
  return d->jobs != NULL && d->jobs->due_ms <= now;
}

/* The earliest due time after now, or -1 when no job is still delayed. */
static int64_t dispatch_next_due(const struct ps__dispatcher *d, int64_t now) {
  const struct dispatch_job *j;
  for (j = d->jobs; j != NULL; j = j->next)
    if (j->due_ms > now)
      return j->due_ms;
  return -1;
}

static void dispatch_insert(struct ps__dispatcher *d,
                            struct dispatch_job *job) {
  struct dispatch_job **p = &d->jobs;
  while (*p != NULL && (*p)->due_ms <= job->due_ms)
    p = &(*p)->next;
  job->next = *p;
  *p = job;
}

/* Sleeps until due_ms on the monotonic clock (-1: until signalled). */
static void dispatch_wait(struct ps__dispatcher *d, int64_t due_ms) {
  struct timespec ts;
  if (due_ms < 0) {
    pthread_cond_wait(&d->cv, &d->mu);
    return;
  }
  ts.tv_sec = (time_t)(due_ms / 1000);
  ts.tv_nsec = (long)(due_ms % 1000) * 1000000L;
  pthread_cond_timedwait(&d->cv, &d->mu, &ts);
}

/* Runs job with d->mu released, marking it as the running job so that
 * ps__dispatcher_in_job and ps__dispatcher_free can tell. */
static void dispatch_run_job(struct ps__dispatcher *d,
                             struct dispatch_job *job) {
  d->running = 1;
  d->job_thread = pthread_self();
  pthread_mutex_unlock(&d->mu);
  job->fn(job->arg);
  free(job);
  pthread_mutex_lock(&d->mu);
  d->running = 0;
  pthread_cond_broadcast(&d->cv);
}

static struct dispatch_job *dispatch_pop(struct ps__dispatcher *d) {
  struct dispatch_job *job = d->jobs;
  d->jobs = job->next;
  return job;
}

static void dispatch_destroy(struct ps__dispatcher *d) {
  dispatch_fd_close(d);
  pthread_cond_destroy(&d->cv);
  pthread_mutex_destroy(&d->mu);
  free(d);
}

/* ---- The dispatcher thread ---------------------------------------------- */

/* APP mode: due jobs exist and were not announced yet, so make the fd
 * readable and call the ready callback (without the mutex: it is the
 * application's code). */
static void dispatch_announce(struct ps__dispatcher *d) {
  powersync_dispatch_ready_cb cb = d->ready_cb;
  void *user_data = d->ready_user_data;
  d->announced = 1;
  dispatch_fd_signal(d);
  if (cb != NULL) {
    pthread_mutex_unlock(&d->mu);
    cb(user_data);
    pthread_mutex_lock(&d->mu);
  }
}

static void *dispatch_thread_main(void *arg) {
  struct ps__dispatcher *d = arg;
  pthread_mutex_lock(&d->mu);
  while (!d->stopping) {
    int64_t now = ps__now_ms();
    if (dispatch_has_due(d, now)) {
      if (d->mode == POWERSYNC_DISPATCH_THREAD) {
        dispatch_run_job(d, dispatch_pop(d));
        continue;
      }
      if (!d->announced) {
        dispatch_announce(d);
        continue;
      }
    }
    dispatch_wait(d, d->mode == POWERSYNC_DISPATCH_THREAD
                         ? (d->jobs != NULL ? d->jobs->due_ms : -1)
                         : dispatch_next_due(d, now));
  }
  if (d->free_pending && d->mode == POWERSYNC_DISPATCH_THREAD) {
    /* ps__dispatcher_free ran inside our last job and left d to us. (In
     * APP mode the job ran in ps__dispatcher_run, which frees d.) */
    pthread_mutex_unlock(&d->mu);
    dispatch_destroy(d);
    return NULL;
  }
  pthread_mutex_unlock(&d->mu);
  return NULL;
}

/* ---- Internal interface ------------------------------------------------- */

struct ps__dispatcher *ps__dispatcher_new(powersync_dispatch_mode mode) {
  struct ps__dispatcher *d = calloc(1, sizeof *d);
  pthread_condattr_t attr;
  if (d == NULL)
    return NULL;
  d->mode = mode;
  d->fd_read = d->fd_write = -1;
  d->next_hook_id = 1;
  pthread_mutex_init(&d->mu, NULL);
  /* Due times come from CLOCK_MONOTONIC, so the timed waits must use it
   * too: a wall-clock jump must not stall or rush throttled watches. */
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&d->cv, &attr);
  pthread_condattr_destroy(&attr);
  if (mode == POWERSYNC_DISPATCH_APP && dispatch_fd_open(d) != 0)
    goto fail;
  if (pthread_create(&d->thread, NULL, dispatch_thread_main, d) != 0)
    goto fail;
  d->thread_started = 1;
  return d;
fail:
  dispatch_destroy(d);
  return NULL;
}

static int dispatch_on_job_thread(const struct ps__dispatcher *d) {
  return d->running && pthread_equal(d->job_thread, pthread_self());
}

/* Calls the cancel function of every queued job and frees them. */
static void dispatch_cancel_jobs(struct dispatch_job *jobs) {
  while (jobs != NULL) {
    struct dispatch_job *next = jobs->next;
    if (jobs->cancel != NULL)
      jobs->cancel(jobs->arg);
    free(jobs);
    jobs = next;
  }
}

static void dispatch_call_hooks(struct dispatch_hook *hooks) {
  while (hooks != NULL) {
    struct dispatch_hook *next = hooks->next;
    hooks->fn(hooks->arg);
    free(hooks);
    hooks = next;
  }
}

void ps__dispatcher_free(struct ps__dispatcher *d) {
  struct dispatch_job *jobs;
  struct dispatch_hook *hooks;
  int self;
  if (d == NULL)
    return;
  pthread_mutex_lock(&d->mu);
  d->stopping = 1;
  pthread_cond_broadcast(&d->cv);
  self = dispatch_on_job_thread(d);
  while (!self && d->running)
    pthread_cond_wait(&d->cv, &d->mu);
  jobs = d->jobs;
  hooks = d->hooks;
  d->jobs = NULL;
  d->hooks = NULL;
  d->free_pending = self;
  pthread_mutex_unlock(&d->mu);

  if (self && d->mode == POWERSYNC_DISPATCH_THREAD)
    pthread_detach(d->thread); /* The thread frees d when the job returns. */
  else if (d->thread_started)
    pthread_join(d->thread, NULL);
  dispatch_cancel_jobs(jobs);
  dispatch_call_hooks(hooks);
  if (!self)
    dispatch_destroy(d);
}

int ps__dispatcher_post(struct ps__dispatcher *d, int delay_ms,
                        void (*fn)(void *arg), void (*cancel)(void *arg),
                        void *arg) {
  struct dispatch_job *job;
  if (d == NULL || fn == NULL)
    return POWERSYNC_EINVAL;
  job = calloc(1, sizeof *job);
  if (job == NULL)
    return POWERSYNC_ENOMEM;
  job->due_ms = ps__now_ms() + (delay_ms > 0 ? delay_ms : 0);
  job->fn = fn;
  job->cancel = cancel;
  job->arg = arg;
  pthread_mutex_lock(&d->mu);
  if (d->stopping) {
    pthread_mutex_unlock(&d->mu);
    free(job);
    return POWERSYNC_ECLOSED;
  }
  job->seq = d->next_seq++;
  dispatch_insert(d, job);
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
  return POWERSYNC_OK;
}

/* Whether ps__dispatcher_run may start on this thread: APP mode, not
 * stopping, and no job running (which also rules out re-entry from a job). */
static int dispatch_can_run(const struct ps__dispatcher *d) {
  return d->mode == POWERSYNC_DISPATCH_APP && !d->stopping && !d->running;
}

int ps__dispatcher_run(struct ps__dispatcher *d, int max) {
  int n = 0;
  uint64_t last_seq;
  if (d == NULL)
    return 0;
  pthread_mutex_lock(&d->mu);
  if (!dispatch_can_run(d)) {
    pthread_mutex_unlock(&d->mu);
    return 0;
  }
  /* Only jobs posted before this call: a job that keeps re-posting itself
   * with no delay must not keep the application's thread here forever. */
  last_seq = d->next_seq;
  while ((max <= 0 || n < max) && !d->stopping &&
         dispatch_has_due(d, ps__now_ms()) && d->jobs->seq < last_seq) {
    dispatch_run_job(d, dispatch_pop(d));
    n++;
  }
  if (d->free_pending) {
    pthread_mutex_unlock(&d->mu);
    dispatch_destroy(d);
    return n;
  }
  if (!dispatch_has_due(d, ps__now_ms())) {
    /* Nothing left to announce: the fd goes quiet until the thread sees
     * the next due job. */
    dispatch_fd_drain(d);
    d->announced = 0;
  }
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
  return n;
}

int ps__dispatcher_fd(struct ps__dispatcher *d) {
  if (d == NULL || d->mode != POWERSYNC_DISPATCH_APP)
    return -1;
  return d->fd_read;
}

void ps__dispatcher_set_ready(struct ps__dispatcher *d,
                              powersync_dispatch_ready_cb cb, void *user_data) {
  if (d == NULL)
    return;
  pthread_mutex_lock(&d->mu);
  d->ready_cb = cb;
  d->ready_user_data = user_data;
  /* Due jobs already announced through the fd only are announced again,
   * so the new callback learns about them. */
  d->announced = 0;
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

int ps__dispatcher_in_job(struct ps__dispatcher *d) {
  int r;
  if (d == NULL)
    return 0;
  pthread_mutex_lock(&d->mu);
  r = dispatch_on_job_thread(d);
  pthread_mutex_unlock(&d->mu);
  return r;
}

int ps__dispatcher_add_free_hook(struct ps__dispatcher *d,
                                 void (*fn)(void *arg), void *arg,
                                 uint64_t *id_out) {
  struct dispatch_hook *h;
  if (d == NULL || fn == NULL)
    return POWERSYNC_EINVAL;
  h = calloc(1, sizeof *h);
  if (h == NULL)
    return POWERSYNC_ENOMEM;
  h->fn = fn;
  h->arg = arg;
  pthread_mutex_lock(&d->mu);
  if (d->stopping) {
    pthread_mutex_unlock(&d->mu);
    free(h);
    return POWERSYNC_ECLOSED;
  }
  h->id = d->next_hook_id++;
  h->next = d->hooks;
  d->hooks = h;
  if (id_out != NULL)
    *id_out = h->id;
  pthread_mutex_unlock(&d->mu);
  return POWERSYNC_OK;
}

void ps__dispatcher_remove_free_hook(struct ps__dispatcher *d, uint64_t id) {
  struct dispatch_hook **p;
  if (d == NULL)
    return;
  pthread_mutex_lock(&d->mu);
  for (p = &d->hooks; *p != NULL; p = &(*p)->next) {
    if ((*p)->id == id) {
      struct dispatch_hook *h = *p;
      *p = h->next;
      free(h);
      break;
    }
  }
  pthread_mutex_unlock(&d->mu);
}

/* ---- Public API (db.h) --------------------------------------------------- */

int powersync_db_dispatch(powersync_db *db, int max_events) {
  struct ps__dispatcher *d;
  ps__error_reset();
  if (db == NULL)
    return ps__error_set(POWERSYNC_EINVAL, "db is NULL");
  d = ps__db_dispatcher(db);
  if (d == NULL || d->mode != POWERSYNC_DISPATCH_APP)
    return ps__error_set(POWERSYNC_EINVAL,
                         "the database does not use POWERSYNC_DISPATCH_APP");
  return ps__dispatcher_run(d, max_events);
}

int powersync_db_dispatch_fd(powersync_db *db) {
  if (db == NULL)
    return -1;
  return ps__dispatcher_fd(ps__db_dispatcher(db));
}

void powersync_db_set_dispatch_ready(powersync_db *db,
                                     powersync_dispatch_ready_cb cb,
                                     void *user_data) {
  if (db == NULL)
    return;
  ps__dispatcher_set_ready(ps__db_dispatcher(db), cb, user_data);
}
