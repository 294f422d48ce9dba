// crm-devbroker: a Kafka-protocol broker for development and tests, hosted by librdkafka's mock cluster.
//
// It listens on loopback (a random port: librdkafka 2.0.2 has no fixed-port API), creates the suite's
// topics from a topics file, prints `BROKERS=<host:port>` on stdout, writes the same address to
// --bootstrap-file (atomically, for tools/crm and the services), and stays up until SIGTERM/SIGINT.
// SIGUSR1 takes every broker down (connections dropped, new ones refused) and SIGUSR2 brings them back,
// so tests can stage a broker outage without losing the address or the data.
//
// Development and tests only: in memory, no CreateTopics/admin API, no TLS/SASL, and transactions
// write no control markers (read_committed sees aborted records). See README.md beside this file.
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Args {
  int brokers = 1;
  int default_partitions = 3;
  std::vector<std::string> topics_files;
  std::vector<std::string> topics;  // name[:partitions]
  std::string bootstrap_file;
  int rtt_ms = 0;
};

[[noreturn]] void Usage(const char* why) {
  std::cerr
      << "crm-devbroker: " << why << "\n"
      << "usage: crm-devbroker [--brokers N] [--partitions N] [--topics-file F]... [--topic NAME[:P]]...\n"
      << "                     [--bootstrap-file F] [--rtt-ms N]\n"
      << "  --rtt-ms N  delays every broker response by N ms (tests: make a relay's batches slow)\n";
  std::exit(2);
}

int ParsePositive(const char* flag, const char* value) {
  char* end = nullptr;
  long v = std::strtol(value, &end, 10);
  if (end == value || *end != '\0' || v < 1 || v > 1000) {
    std::cerr << "crm-devbroker: " << flag << "=\"" << value << "\": want an integer in [1, 1000]\n";
    std::exit(2);
  }
  return static_cast<int>(v);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + flag).c_str());
    const char* value = argv[++i];
    if (flag == "--brokers")
      a.brokers = ParsePositive("--brokers", value);
    else if (flag == "--partitions")
      a.default_partitions = ParsePositive("--partitions", value);
    else if (flag == "--topics-file")
      a.topics_files.push_back(value);
    else if (flag == "--topic")
      a.topics.push_back(value);
    else if (flag == "--bootstrap-file")
      a.bootstrap_file = value;
    else if (flag == "--rtt-ms")
      a.rtt_ms = ParsePositive("--rtt-ms", value);
    else
      Usage(("unknown flag " + flag).c_str());
  }
  return a;
}

struct Topic {
  std::string name;
  int partitions;
};

// Reads "name [partitions]" lines; '#' starts a comment.
std::vector<Topic> ReadTopics(const Args& args) {
  std::vector<Topic> out;
  for (const auto& path : args.topics_files) {
    std::ifstream in(path);
    if (!in) {
      std::cerr << "crm-devbroker: cannot read topics file " << path << "\n";
      std::exit(2);
    }
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
      std::istringstream fields(line);
      Topic t{"", args.default_partitions};
      if (!(fields >> t.name)) continue;
      std::string p;
      if (fields >> p) t.partitions = ParsePositive((path + ":" + std::to_string(lineno)).c_str(), p.c_str());
      out.push_back(t);
    }
  }
  for (const auto& spec : args.topics) {
    Topic t{spec, args.default_partitions};
    if (auto colon = spec.find(':'); colon != std::string::npos) {
      t.name = spec.substr(0, colon);
      t.partitions = ParsePositive("--topic", spec.c_str() + colon + 1);
    }
    out.push_back(t);
  }
  return out;
}

void WriteAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content << "\n";
    if (!out) {
      std::cerr << "crm-devbroker: cannot write " << tmp << "\n";
      std::exit(1);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::cerr << "crm-devbroker: cannot rename to " << path << ": " << std::strerror(errno) << "\n";
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);
  std::vector<Topic> topics = ReadTopics(args);

  // Block the signals we handle before librdkafka starts its threads, then take them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err) != RD_KAFKA_CONF_OK) {
    std::cerr << "crm-devbroker: " << err << "\n";
    return 1;
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::cerr << "crm-devbroker: " << err << "\n";
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, args.brokers);
  if (cluster == nullptr) {
    std::cerr << "crm-devbroker: could not start the mock cluster\n";
    return 1;
  }
  for (const auto& t : topics) {
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(cluster, t.name.c_str(), t.partitions, 1);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "crm-devbroker: topic " << t.name << ": " << rd_kafka_err2str(e) << "\n";
      return 1;
    }
  }
  for (int id = 1; args.rtt_ms > 0 && id <= args.brokers; ++id) {
    rd_kafka_mock_broker_set_rtt(cluster, id, args.rtt_ms);
  }
  const std::string bootstraps = rd_kafka_mock_cluster_bootstraps(cluster);
  if (!args.bootstrap_file.empty()) WriteAtomically(args.bootstrap_file, bootstraps);
  std::cout << "BROKERS=" << bootstraps << "\nTOPICS=" << topics.size() << std::endl;

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGUSR1) {
      rd_kafka_mock_broker_set_down(cluster, -1);
      std::cout << "DOWN" << std::endl;
    } else if (sig == SIGUSR2) {
      rd_kafka_mock_broker_set_up(cluster, -1);
      std::cout << "UP" << std::endl;
    } else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
      break;
    }
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  if (!args.bootstrap_file.empty()) std::remove(args.bootstrap_file.c_str());
  return 0;
}
