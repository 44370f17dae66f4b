// The timeline picture (chaos/timeline.h) on hand-made histories: the SVG is well-formed and shows
// a bar per epoch, each fault, each error; text is escaped; an empty history and a huge one both
// give a valid, small picture; the HTML page embeds it with its tables; WriteTimeline reports a
// file it cannot write.
#include "chaos/timeline.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coordha::chaos {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Kind = Operation::Kind;
using Outcome = Operation::Outcome;

Operation Ok(int64_t complete_us, int64_t server, int64_t epoch, int64_t latency_us = 800) {
  Operation op;
  op.kind = Kind::kTimestamp;
  op.invoke_us = complete_us - latency_us;
  op.complete_us = complete_us;
  op.outcome = Outcome::kOk;
  op.server_id = server;
  op.epoch = epoch;
  op.first = static_cast<uint64_t>(complete_us);
  op.count = 1;
  return op;
}

Operation Error(int64_t complete_us, Outcome outcome) {
  Operation op;
  op.kind = Kind::kId;
  op.invoke_us = complete_us - 1000;
  op.complete_us = complete_us;
  op.outcome = outcome;
  return op;  // server 0, epoch 0: nobody answered
}

// Server 1 in epoch 7 for 0–2 s, a kill9 at 2 s, server 2 in epoch 8 from 3.2 s to 5 s; a failed
// and an unknown call in the gap. Ops are pushed out of time order on purpose.
History Failover() {
  History h;
  for (int64_t t = 4'900'000; t >= 3'200'000; t -= 100'000) h.ops.push_back(Ok(t, 2, 8));
  for (int64_t t = 10'000; t <= 2'000'000; t += 100'000) h.ops.push_back(Ok(t, 1, 7));
  h.ops.push_back(Error(2'500'000, Outcome::kFailed));
  h.ops.push_back(Error(2'600'000, Outcome::kUnknown));
  h.faults.push_back({.kind = "kill9",
                      .target = "replica-1 (active)",
                      .role = "rootcoord",
                      .at_us = 2'050'000,
                      .bound_ms = 5000});
  return h;
}

// Counts opening and closing tags: every non-self-closing open tag has its close, in order.
bool Balanced(const std::string& xml) {
  std::vector<std::string> stack;
  size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string::npos) {
    const size_t end = xml.find('>', pos);
    if (end == std::string::npos) return false;
    const std::string tag = xml.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.empty()) return false;
    if (tag[0] == '!' || tag[0] == '?') continue;
    if (tag.back() == '/') continue;
    const std::string name =
        tag.substr(tag[0] == '/' ? 1 : 0, tag.find_first_of(" \n\t") - (tag[0] == '/' ? 1 : 0));
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != name) return false;
      stack.pop_back();
    } else {
      stack.push_back(name);
    }
  }
  return stack.empty();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

TEST(TimelineSvg, IsAWellFormedSvgDocument) {
  const std::string svg = TimelineSvg(Failover(), {.title = "coordha chaos — seed 42"});
  EXPECT_THAT(svg, StartsWith("<svg"));
  EXPECT_THAT(svg, EndsWith("</svg>\n"));
  EXPECT_TRUE(Balanced(svg));
  EXPECT_THAT(svg, HasSubstr("coordha chaos — seed 42"));
  EXPECT_THAT(svg, Not(HasSubstr("<script")));
  EXPECT_THAT(svg, Not(HasSubstr("href")));  // nothing external
}

TEST(TimelineSvg, DrawsABarPerEpochLabelledWithItsServer) {
  const std::string svg = TimelineSvg(Failover());
  EXPECT_THAT(svg, HasSubstr("server 1 · epoch 7"));
  EXPECT_THAT(svg, HasSubstr("server 2 · epoch 8"));
  EXPECT_THAT(svg, HasSubstr("rootcoord"));
  // The failover gap, from epoch 7's last answer (1.91 s) to epoch 8's first (3.2 s), is labelled
  // with its length.
  EXPECT_THAT(svg, HasSubstr("1290 ms"));
}

TEST(TimelineSvg, DrawsTheFaultWithItsKindAndFailoverBand) {
  const std::string svg = TimelineSvg(Failover());
  EXPECT_THAT(svg, HasSubstr("kill9"));
  EXPECT_THAT(svg, HasSubstr("#d62728"));  // kill9's colour
  // Epoch 8 first answered at 3.2 s, 1150 ms after the fault.
  EXPECT_THAT(svg, HasSubstr("a higher epoch answered after 1150 ms"));
}

TEST(TimelineSvg, FaultWithoutFailoverShowsItsBound) {
  History h = Failover();
  h.faults.push_back({.kind = "stop",
                      .target = "replica-2 (standby)",
                      .role = "rootcoord",
                      .at_us = 4'000'000,
                      .bound_ms = 700});
  const std::string svg = TimelineSvg(h);
  EXPECT_THAT(svg, HasSubstr("no higher epoch answered; the band is the bound, 700 ms"));
}

TEST(TimelineSvg, FaultOfNoRoleDoesNotHideAFailover) {
  History h = Failover();
  h.faults.push_back(
      {.kind = "etcd-restart", .target = "etcd-0", .role = "", .at_us = 2'500'000, .bound_ms = 0});
  const std::string html = TimelineHtml(h);
  // The kill9 at 2.05 s still owns the failover to epoch 8 at 3.2 s; the etcd restart at 2.5 s
  // (every role) also saw epoch 8 answer, 700 ms after it.
  EXPECT_THAT(html, HasSubstr("replica-1 (active)</td><td class=\"l\">rootcoord</td><td>5000</td>"
                              "<td>1150</td>"));
  EXPECT_THAT(html, HasSubstr("etcd-0</td><td class=\"l\"></td><td>—</td><td>700</td>"));
}

TEST(TimelineSvg, DrawsAnErrorTickForFailedAndUnknownOps) {
  const std::string svg = TimelineSvg(Failover());
  EXPECT_THAT(svg, HasSubstr("1 failed at"));
  EXPECT_THAT(svg, HasSubstr("1 unknown at"));

  History clean = Failover();
  clean.ops.resize(clean.ops.size() - 2);
  EXPECT_THAT(TimelineSvg(clean), Not(HasSubstr("failed at")));
}

TEST(TimelineSvg, EscapesText) {
  History h = Failover();
  h.faults[0].target = "a<b & c>d \"q\"";
  const std::string svg = TimelineSvg(h, {.title = "t<&>"});
  EXPECT_THAT(svg, HasSubstr("a&lt;b &amp; c&gt;d &quot;q&quot;"));
  EXPECT_THAT(svg, HasSubstr("t&lt;&amp;&gt;"));
  EXPECT_THAT(svg, Not(HasSubstr("a<b")));
  EXPECT_TRUE(Balanced(svg));
}

TEST(TimelineSvg, EmptyHistoryGivesAValidSvg) {
  const std::string svg = TimelineSvg(History{});
  EXPECT_THAT(svg, StartsWith("<svg"));
  EXPECT_THAT(svg, EndsWith("</svg>\n"));
  EXPECT_TRUE(Balanced(svg));
  EXPECT_THAT(svg, HasSubstr("no operations"));
}

TEST(TimelineSvg, OnlyErrorsAndEpochZeroDrawNoBar) {
  History h;
  for (int i = 0; i < 10; ++i) h.ops.push_back(Error(5000, Outcome::kUnknown));
  h.ops.push_back(Ok(20'000, 0, 0));
  const std::string svg = TimelineSvg(h);
  EXPECT_TRUE(Balanced(svg));
  EXPECT_THAT(svg, Not(HasSubstr("· epoch")));
  EXPECT_THAT(svg, HasSubstr("10 unknown at"));
}

TEST(TimelineSvg, AggregatesHalfAMillionOpsUnderTwoMegabytes) {
  History h;
  h.ops.reserve(500'000);
  // 100 s; a failover every 10 s between servers 1 and 2; every 50th call fails.
  for (int i = 0; i < 500'000; ++i) {
    const int64_t t = i * 200 + 1000;
    const int64_t epoch = t / 10'000'000 + 1;
    if (t % 10'000'000 < 300'000) {
      h.ops.push_back(Error(t, i % 2 ? Outcome::kFailed : Outcome::kUnknown));
    } else if (i % 50 == 0) {
      h.ops.push_back(Error(t, Outcome::kFailed));
    } else {
      h.ops.push_back(Ok(t, epoch % 2 + 1, epoch, 300 + i % 7000));
    }
  }
  for (int k = 1; k < 10; ++k) {
    h.faults.push_back({.kind = k % 2 ? "kill9" : "stop",
                        .target = "replica (active)",
                        .role = "rootcoord",
                        .at_us = k * 10'000'000 - 1000,
                        .bound_ms = 2000});
  }
  const std::string svg = TimelineSvg(h);
  EXPECT_LT(svg.size(), 2u << 20);
  EXPECT_TRUE(Balanced(svg));
  EXPECT_THAT(svg, HasSubstr("server 1 · epoch 10"));
  EXPECT_EQ(Count(svg, "<polyline"), 3u * 10);  // p50, p99, max, broken at each failover
}

TEST(TimelineHtml, EmbedsTheSvgAndTheTables) {
  const std::string html = TimelineHtml(Failover(), {.title = "seed <7>"});
  EXPECT_THAT(html, StartsWith("<!DOCTYPE html>"));
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, HasSubstr("</svg>"));
  EXPECT_THAT(html, HasSubstr("<title>seed &lt;7&gt;</title>"));
  EXPECT_TRUE(Balanced(html.substr(html.find("<html"))));
  // The fault row: number, time, kind, target, role, bound, time until epoch 8 answered.
  EXPECT_THAT(html, HasSubstr("<tr><td>F1</td><td>2.050</td><td class=\"l\">kill9</td>"
                              "<td class=\"l\">replica-1 (active)</td><td class=\"l\">rootcoord"
                              "</td><td>5000</td><td>1150</td></tr>"));
  // The epochs: server, epoch, first, last, answers.
  EXPECT_THAT(html, HasSubstr("<td>1</td><td>7</td><td>0.010</td><td>1.910</td><td>20</td>"));
  EXPECT_THAT(html, HasSubstr("<td>2</td><td>8</td><td>3.200</td><td>4.900</td><td>18</td>"));
  // The counts: ts 38 ok; id 1 failed, 1 unknown.
  EXPECT_THAT(html, HasSubstr("<tr><td class=\"l\">ts</td><td>38</td><td>0</td><td>0</td>"));
  EXPECT_THAT(html, HasSubstr("<tr><td class=\"l\">id</td><td>0</td><td>1</td><td>1</td>"));
}

TEST(TimelineHtml, CountsEveryKindOfOperation) {
  History h = Failover();
  Operation grant = Ok(4'950'000, 3, 12);
  grant.kind = Kind::kSegment;
  grant.role = "datacoord";
  grant.segment = 7;
  h.ops.push_back(grant);
  const std::string html = TimelineHtml(h, {});
  EXPECT_THAT(html, HasSubstr("<tr><td class=\"l\">seg</td><td>1</td><td>0</td><td>0</td>"));
  EXPECT_THAT(html, HasSubstr("41 operations (39 ok · 1 failed · 1 unknown)"));
  EXPECT_THAT(TimelineSvg(h), HasSubstr("datacoord"));
}

TEST(WriteTimeline, WritesBothFiles) {
  const std::string dir = ::testing::TempDir();
  ASSERT_TRUE(WriteTimeline(Failover(), {.title = "x"}, dir).ok());
  std::ifstream svg(dir + "/timeline.svg"), html(dir + "/timeline.html");
  std::stringstream svg_text, html_text;
  svg_text << svg.rdbuf();
  html_text << html.rdbuf();
  EXPECT_THAT(svg_text.str(), StartsWith("<svg"));
  EXPECT_THAT(html_text.str(), HasSubstr("<svg"));
}

TEST(WriteTimeline, UnwritableDirectoryNamesTheFile) {
  const absl::Status status = WriteTimeline(Failover(), {}, "/nonexistent-dir/run-7");
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("/nonexistent-dir/run-7/timeline.svg"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("No such file or directory"));
}

}  // namespace
}  // namespace coordha::chaos
