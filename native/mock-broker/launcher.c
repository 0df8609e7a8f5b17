/*
 * paysignal embedded Kafka broker: a thin launcher over librdkafka's Kafka-protocol mock cluster
 * (rdkafka_mock.h). Used by the tests and by `paysignal demo`; never in production.
 *
 *   launcher [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * Prints `READY <bootstrap servers>` on stdout once the brokers listen (127.0.0.1 only), then reads
 * one command per line from stdin and answers each with one line, `OK ...` or `ERR <message>`:
 *
 *   topic NAME PARTITIONS [REPLICATION]   create a topic
 *   down BROKER_ID | up BROKER_ID         take a broker down (connections closed) or back up
 *   rtt BROKER_ID MS                      add round-trip latency to a broker
 *   errors API_KEY COUNT ERRCODE...       the next COUNT requests of API_KEY fail with these codes
 *   clear API_KEY                         drop pushed errors of API_KEY
 *   topic-error NAME ERRCODE              make metadata for a topic report an error (0 clears)
 *   bootstraps                            print the bootstrap servers again
 *   quit                                  stop the cluster and exit 0
 *
 * It exits when stdin closes, so it never outlives the process that started it.
 *
 * Retention: librdkafka 2.0.x keeps about the last 5 MB (or 100k message sets) per partition and
 * offers no public way to raise that limit; callers keep partitions small or consume while producing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define MAX_LINE 4096
#define MAX_ERRORS 256

static void quiet_logger(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  (void)rk;
  if (level <= 3) fprintf(stderr, "mock-broker: %s: %s\n", fac, buf);
}

static int parse_int(const char *s, long min, long max, long *out) {
  char *end = NULL;
  if (s == NULL || *s == '\0') return -1;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static void reply_err(const char *fmt, const char *arg) {
  fputs("ERR ", stdout);
  fprintf(stdout, fmt, arg);
  fputc('\n', stdout);
  fflush(stdout);
}

static void reply_resp(const char *what, rd_kafka_resp_err_t err) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    fprintf(stdout, "OK %s\n", what);
  } else {
    fprintf(stdout, "ERR %s: %s\n", what, rd_kafka_err2str(err));
  }
  fflush(stdout);
}

static int create_topic(rd_kafka_mock_cluster_t *mc, const char *name, long partitions, long replication) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, (int)partitions, (int)replication);
  return err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

int main(int argc, char **argv) {
  long brokers = 1;
  char errstr[512];

#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  signal(SIGPIPE, SIG_IGN);

  /* First pass: options that shape the cluster. */
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
      if (parse_int(argv[++i], 1, 16, &brokers) != 0) {
        fprintf(stderr, "mock-broker: --brokers takes 1..16\n");
        return 64;
      }
    } else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
      i++; /* handled after the cluster is up */
    } else {
      fprintf(stderr, "mock-broker: unknown argument %s\nusage: %s [--brokers N] [--topic NAME:PARTITIONS]...\n",
              argv[i], argv[0]);
      return 64;
    }
  }

  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, quiet_logger);
  if (rd_kafka_conf_set(conf, "client.id", "paysignal-mock-broker", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "mock-broker: %s\n", errstr);
    return 70;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == NULL) {
    fprintf(stderr, "mock-broker: rd_kafka_new: %s\n", errstr);
    return 70;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
  if (mc == NULL) {
    fprintf(stderr, "mock-broker: could not create the mock cluster\n");
    rd_kafka_destroy(rk);
    return 70;
  }

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--topic") != 0) {
      if (strcmp(argv[i], "--brokers") == 0) i++;
      continue;
    }
    char *spec = argv[++i];
    char *colon = strrchr(spec, ':');
    long partitions = 1;
    if (colon != NULL) {
      *colon = '\0';
      if (parse_int(colon + 1, 1, 10000, &partitions) != 0) {
        fprintf(stderr, "mock-broker: bad partition count in --topic %s\n", spec);
        return 64;
      }
    }
    if (*spec == '\0' || create_topic(mc, spec, partitions, 1) != 0) {
      fprintf(stderr, "mock-broker: could not create topic %s\n", spec);
      return 70;
    }
  }

  fprintf(stdout, "READY %s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);

  char line[MAX_LINE];
  int exit_code = 0;
  while (fgets(line, sizeof line, stdin) != NULL) {
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    char *save = NULL;
    char *cmd = strtok_r(line, " \t", &save);
    if (cmd == NULL) continue;

    if (strcmp(cmd, "quit") == 0) {
      fputs("OK quit\n", stdout);
      fflush(stdout);
      break;
    } else if (strcmp(cmd, "bootstraps") == 0) {
      fprintf(stdout, "OK %s\n", rd_kafka_mock_cluster_bootstraps(mc));
      fflush(stdout);
    } else if (strcmp(cmd, "topic") == 0) {
      char *name = strtok_r(NULL, " \t", &save);
      char *parts = strtok_r(NULL, " \t", &save);
      char *repl = strtok_r(NULL, " \t", &save);
      long p, r = 1;
      if (name == NULL || parse_int(parts, 1, 10000, &p) != 0 || (repl != NULL && parse_int(repl, 1, brokers, &r) != 0)) {
        reply_err("%s", "usage: topic NAME PARTITIONS [REPLICATION]");
        continue;
      }
      char what[MAX_LINE + 16];
      snprintf(what, sizeof what, "topic %s %ld", name, p);
      reply_resp(what, rd_kafka_mock_topic_create(mc, name, (int)p, (int)r));
    } else if (strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) {
      long id;
      if (parse_int(strtok_r(NULL, " \t", &save), 1, brokers, &id) != 0) {
        reply_err("usage: %s BROKER_ID (1..number of brokers)", cmd);
        continue;
      }
      char what[64];
      snprintf(what, sizeof what, "%s %ld", cmd, id);
      rd_kafka_resp_err_t err = cmd[0] == 'd' ? rd_kafka_mock_broker_set_down(mc, (int32_t)id)
                                               : rd_kafka_mock_broker_set_up(mc, (int32_t)id);
      reply_resp(what, err);
    } else if (strcmp(cmd, "rtt") == 0) {
      long id, ms;
      if (parse_int(strtok_r(NULL, " \t", &save), 1, brokers, &id) != 0 ||
          parse_int(strtok_r(NULL, " \t", &save), 0, 3600000, &ms) != 0) {
        reply_err("%s", "usage: rtt BROKER_ID MS");
        continue;
      }
      char what[64];
      snprintf(what, sizeof what, "rtt %ld %ld", id, ms);
      reply_resp(what, rd_kafka_mock_broker_set_rtt(mc, (int32_t)id, (int)ms));
    } else if (strcmp(cmd, "errors") == 0) {
      long api, cnt;
      rd_kafka_resp_err_t errs[MAX_ERRORS];
      if (parse_int(strtok_r(NULL, " \t", &save), 0, 32767, &api) != 0 ||
          parse_int(strtok_r(NULL, " \t", &save), 1, MAX_ERRORS, &cnt) != 0) {
        reply_err("%s", "usage: errors API_KEY COUNT ERRCODE... (COUNT 1..256 codes follow)");
        continue;
      }
      int bad = 0;
      for (long k = 0; k < cnt; k++) {
        long code;
        if (parse_int(strtok_r(NULL, " \t", &save), -1000, 32767, &code) != 0) {
          bad = 1;
          break;
        }
        errs[k] = (rd_kafka_resp_err_t)code;
      }
      if (bad || strtok_r(NULL, " \t", &save) != NULL) {
        reply_err("%s", "errors: COUNT must equal the number of error codes given");
        continue;
      }
      rd_kafka_mock_push_request_errors_array(mc, (int16_t)api, (size_t)cnt, errs);
      fprintf(stdout, "OK errors %ld %ld\n", api, cnt);
      fflush(stdout);
    } else if (strcmp(cmd, "clear") == 0) {
      long api;
      if (parse_int(strtok_r(NULL, " \t", &save), 0, 32767, &api) != 0) {
        reply_err("%s", "usage: clear API_KEY");
        continue;
      }
      rd_kafka_mock_clear_request_errors(mc, (int16_t)api);
      fprintf(stdout, "OK clear %ld\n", api);
      fflush(stdout);
    } else if (strcmp(cmd, "topic-error") == 0) {
      char *name = strtok_r(NULL, " \t", &save);
      long code;
      if (name == NULL || parse_int(strtok_r(NULL, " \t", &save), -1000, 32767, &code) != 0) {
        reply_err("%s", "usage: topic-error NAME ERRCODE");
        continue;
      }
      rd_kafka_mock_topic_set_error(mc, name, (rd_kafka_resp_err_t)code);
      fprintf(stdout, "OK topic-error %s %ld\n", name, code);
      fflush(stdout);
    } else {
      reply_err("unknown command %s (topic, down, up, rtt, errors, clear, topic-error, bootstraps, quit)", cmd);
    }
  }

  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return exit_code;
}
