/*
 * The Kafka benchmark's second ceiling: a librdkafka consumer that only counts messages
 * (bench/kafka/run.ts compiles and starts it; librdkafka is already here for the embedded broker).
 *
 *   rdkafka-consumer BOOTSTRAP TOPIC GROUP EXPECTED
 *
 * Same fetch settings as the kafkajs consumers (1 MB per partition, 10 MB per fetch, 1 s max wait),
 * offsets committed automatically. The clock and the CPU count start at the first message and stop
 * at the EXPECTED-th, as in bench/kafka/consumer.ts. CPU is the whole process (librdkafka's own
 * threads do the fetching and decoding). Prints one JSON line; exits 1 on error or after 120 s
 * without reaching EXPECTED.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int set(rd_kafka_conf_t *conf, const char *name, const char *value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "rdkafka-consumer: %s=%s: %s\n", name, value, err);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: rdkafka-consumer BOOTSTRAP TOPIC GROUP EXPECTED\n");
    return 2;
  }
  const char *topic = argv[2];
  long expected = strtol(argv[4], NULL, 10);
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (set(conf, "bootstrap.servers", argv[1]) || set(conf, "group.id", argv[3]) ||
      set(conf, "client.id", "bench-rdkafka") || set(conf, "auto.offset.reset", "earliest") ||
      set(conf, "enable.auto.commit", "true") || set(conf, "max.partition.fetch.bytes", "1048576") ||
      set(conf, "fetch.max.bytes", "10485760") || set(conf, "fetch.wait.max.ms", "1000") ||
      set(conf, "session.timeout.ms", "30000")) {
    return 1;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == NULL) {
    fprintf(stderr, "rdkafka-consumer: %s\n", err);
    return 1;
  }
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fprintf(stderr, "rdkafka-consumer: subscribe: %s\n", rd_kafka_err2str(e));
    return 1;
  }

  long count = 0;
  double started = now_ms(), first = 0, cpu_first = 0, last = 0;
  while (count < expected) {
    if (now_ms() - started > 120000) {
      fprintf(stderr, "rdkafka-consumer: %ld of %ld messages after 120 s\n", count, expected);
      return 1;
    }
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
    if (m == NULL) continue;
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) fprintf(stderr, "rdkafka-consumer: %s\n", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    if (count == 0) {
      first = now_ms();
      cpu_first = cpu_ms();
    }
    count++;
    rd_kafka_message_destroy(m);
  }
  last = now_ms();
  double cpu = cpu_ms() - cpu_first;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double ms = last - first;
  printf("{\"mode\":\"rdkafka\",\"events\":%ld,\"ms\":%.3f,\"eventsPerSec\":%.1f,\"cpuMs\":%.3f,\"rssMb\":%.1f}\n", count, ms,
         ms > 0 ? count / ms * 1000 : 0, cpu, ru.ru_maxrss / 1000.0);
  fflush(stdout);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return 0;
}
