// The timeline picture of a chaos run (chaos/timeline.h): a model of the run aggregated from the
// history (epoch bars, failover gaps, fault recoveries, error and latency buckets), then an SVG
// and an HTML page drawn from it.
#include "chaos/timeline.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace coordha::chaos {
namespace {

using Kind = Operation::Kind;
using Outcome = Operation::Outcome;

// ---- Text ------------------------------------------------------------------------------------

// XML and HTML escaping. Control characters XML 1.0 forbids become '?'.
std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

// The width of `s` in pixels at `font_px`, estimated (no font metrics in a leaf library): an
// average sans-serif glyph is about 0.6 em. Counts UTF-8 code points, not bytes.
double TextWidth(std::string_view s, double font_px = 11) {
  int glyphs = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++glyphs;
  }
  return glyphs * font_px * 0.6;
}

std::string Seconds(int64_t us) { return absl::StrFormat("%.3f", us / 1e6); }
std::string Millis(int64_t us) { return absl::StrFormat("%.0f", us / 1e3); }

std::string Faults(size_t n) { return absl::StrCat(n, n == 1 ? " fault" : " faults"); }

const std::string& RoleOf(const Operation& op) {
  static const std::string kDefault = "rootcoord";
  return op.role.empty() ? kDefault : op.role;
}

// ---- Colours ---------------------------------------------------------------------------------

// Light enough for dark label text on top.
constexpr const char* kServerColours[] = {"#7aa6d6", "#8cc68a", "#e8b86a", "#c9a6e0",
                                          "#7fcfc9", "#e29a8f", "#d4cf6e", "#b0b0b0"};
constexpr const char* kFailedColour = "#c62828";
constexpr const char* kUnknownColour = "#f39c12";
constexpr const char* kP50Colour = "#1f5fa8";
constexpr const char* kP99Colour = "#e0701a";
constexpr const char* kMaxColour = "#9a9a9a";

const char* FaultColour(const std::string& kind) {
  static const std::map<std::string, const char*> kKnown = {{"kill9", "#d62728"},
                                                            {"term", "#ff7f0e"},
                                                            {"stop", "#9467bd"},
                                                            {"etcd-restart", "#8c564b"},
                                                            {"etcd-member-kill", "#e377c2"},
                                                            {"partition", "#17becf"},
                                                            {"reject", "#7f7f1f"}};
  static constexpr const char* kOthers[] = {"#2ca02c", "#1f77b4", "#bcbd22", "#6b6ecf", "#ad494a"};
  auto it = kKnown.find(kind);
  if (it != kKnown.end()) return it->second;
  uint32_t hash = 2166136261u;  // FNV-1a: stable across runs and compilers
  for (char c : kind) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  return kOthers[hash % std::size(kOthers)];
}

// ---- The model -------------------------------------------------------------------------------

// The acknowledged answers of one server in one epoch of one role.
struct EpochBar {
  int64_t server_id = 0;
  int64_t epoch = 0;
  int64_t first_us = 0;  // the first acknowledged answer's complete_us
  int64_t last_us = 0;   // the last one's
  int64_t answers = 0;
  int track = 0;  // the row within the lane; > 0 only when bars overlap in time
};

// A stretch in which no server of a role answered, between two bars.
struct Gap {
  int64_t from_us = 0;
  int64_t to_us = 0;
  const EpochBar* before = nullptr;
  const EpochBar* after = nullptr;
};

struct Lane {
  std::string role;
  std::vector<EpochBar> bars;  // by first_us
  std::vector<Gap> gaps;       // by time
  int tracks = 1;
};

struct FaultMark {
  const Fault* fault = nullptr;
  int number = 0;                       // 1-based, in time order ("F3")
  std::optional<int64_t> recovered_us;  // when a higher epoch of its role first answered
  int64_t band_end_us = 0;              // recovered_us, else at_us + bound, else at_us
};

struct Model {
  int64_t t0_us = 0;
  int64_t t1_us = 0;
  std::vector<Lane> lanes;  // by role name
  std::vector<FaultMark> faults;
  std::vector<int64_t> servers;  // with a bar, ascending
  std::vector<std::string> fault_kinds;
  // [kind][outcome]; one row per Operation::Kind (kSegment is the last).
  int64_t counts[static_cast<int>(Kind::kSegment) + 1][3] = {};
  int64_t ok = 0, failed = 0, unknown = 0;

  double DurationS() const { return (t1_us - t0_us) / 1e6; }
  const char* ServerColour(int64_t server_id) const {
    auto it = std::lower_bound(servers.begin(), servers.end(), server_id);
    return kServerColours[(it - servers.begin()) % std::size(kServerColours)];
  }
};

void BuildLanes(const History& history, Model& model) {
  // role -> (epoch, server) -> bar
  std::map<std::string, std::map<std::pair<int64_t, int64_t>, EpochBar>, std::less<>> by_role;
  for (const Operation& op : history.ops) {
    auto role = by_role.try_emplace(RoleOf(op)).first;  // a lane even for a role with no answer
    if (op.outcome != Outcome::kOk || op.epoch == 0) continue;
    auto [it, inserted] = role->second.try_emplace({op.epoch, op.server_id});
    EpochBar& bar = it->second;
    if (inserted) {
      bar.server_id = op.server_id;
      bar.epoch = op.epoch;
      bar.first_us = bar.last_us = op.complete_us;
    }
    bar.first_us = std::min(bar.first_us, op.complete_us);
    bar.last_us = std::max(bar.last_us, op.complete_us);
    ++bar.answers;
  }
  std::set<int64_t> servers;
  for (auto& [role, bars] : by_role) {
    Lane lane;
    lane.role = role;
    for (auto& entry : bars) lane.bars.push_back(entry.second);
    std::sort(lane.bars.begin(), lane.bars.end(), [](const EpochBar& a, const EpochBar& b) {
      return a.first_us != b.first_us ? a.first_us < b.first_us : a.epoch < b.epoch;
    });
    std::vector<int64_t> track_end;
    for (EpochBar& bar : lane.bars) {
      servers.insert(bar.server_id);
      size_t t = 0;
      while (t < track_end.size() && track_end[t] >= bar.first_us) ++t;
      if (t == track_end.size()) track_end.push_back(0);
      track_end[t] = bar.last_us;
      bar.track = static_cast<int>(t);
    }
    lane.tracks = std::max<int>(1, static_cast<int>(track_end.size()));
    const EpochBar* latest = nullptr;  // the bar that ends last so far
    for (const EpochBar& bar : lane.bars) {
      if (latest != nullptr && bar.first_us > latest->last_us) {
        lane.gaps.push_back({latest->last_us, bar.first_us, latest, &bar});
      }
      if (latest == nullptr || bar.last_us > latest->last_us) latest = &bar;
    }
    model.lanes.push_back(std::move(lane));
  }
  model.servers.assign(servers.begin(), servers.end());
}

// A fault's failover: the first answer of an epoch above the highest one of its role(s) that had
// answered by the fault, unless that came only after the next fault of the same role (then this
// fault caused none, e.g. it hit a standby). A fault with no role concerns every role, and its
// window ends at the next fault of any role; a role's fault ignores the faults of no role (an
// etcd fault during a failover does not hide that failover).
void BuildFaults(const History& history, Model& model) {
  std::vector<const Fault*> sorted;
  for (const Fault& f : history.faults) sorted.push_back(&f);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Fault* a, const Fault* b) { return a->at_us < b->at_us; });
  std::set<std::string> kinds;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const Fault& fault = *sorted[i];
    kinds.insert(fault.kind);
    int64_t next_us = std::numeric_limits<int64_t>::max();
    for (size_t j = i + 1; j < sorted.size(); ++j) {
      if (fault.role.empty() || sorted[j]->role == fault.role) {
        next_us = sorted[j]->at_us;
        break;
      }
    }
    FaultMark mark{.fault = &fault, .number = static_cast<int>(i + 1)};
    for (const Lane& lane : model.lanes) {
      if (!fault.role.empty() && lane.role != fault.role) continue;
      int64_t current = std::numeric_limits<int64_t>::min();
      for (const EpochBar& bar : lane.bars) {
        if (bar.first_us <= fault.at_us) current = std::max(current, bar.epoch);
      }
      for (const EpochBar& bar : lane.bars) {
        if (bar.epoch > current && bar.first_us > fault.at_us && bar.first_us < next_us &&
            (!mark.recovered_us || bar.first_us < *mark.recovered_us)) {
          mark.recovered_us = bar.first_us;
        }
      }
    }
    mark.band_end_us = mark.recovered_us ? *mark.recovered_us : fault.at_us + fault.bound_ms * 1000;
    model.faults.push_back(mark);
  }
  model.fault_kinds.assign(kinds.begin(), kinds.end());
}

Model BuildModel(const History& history) {
  Model model;
  int64_t lo = 0, hi = 0;
  for (const Operation& op : history.ops) {
    // The axis is of completions (and faults): an invocation before the run began would only
    // stretch it.
    lo = std::min(lo, op.complete_us);
    hi = std::max(hi, op.complete_us);
    ++model.counts[static_cast<int>(op.kind)][static_cast<int>(op.outcome)];
    switch (op.outcome) {
      case Outcome::kOk:
        ++model.ok;
        break;
      case Outcome::kFailed:
        ++model.failed;
        break;
      case Outcome::kUnknown:
        ++model.unknown;
        break;
    }
  }
  for (const Fault& f : history.faults) {
    lo = std::min(lo, f.at_us);
    hi = std::max(hi, f.at_us);
  }
  model.t0_us = lo;
  model.t1_us = std::max(hi, lo + 1000);  // never an empty axis
  BuildLanes(history, model);
  BuildFaults(history, model);
  return model;
}

// ---- The SVG ---------------------------------------------------------------------------------

// Geometry shared by the panels. x: time; the plot area spans [left, left + plot_w].
struct Frame {
  double width = 0;
  double left = 150;
  double right = 24;
  double plot_w = 0;
  int64_t t0 = 0, t1 = 1;
  double X(int64_t us) const {
    us = std::clamp(us, t0, t1);
    return left + static_cast<double>(us - t0) / static_cast<double>(t1 - t0) * plot_w;
  }
};

std::string F1(double v) { return absl::StrFormat("%.1f", v); }

// A "nice" step (1, 2 or 5 times a power of ten) that cuts `span` into at most `max_ticks`.
double NiceStep(double span, int max_ticks) {
  double step = std::pow(10.0, std::floor(std::log10(span / max_ticks)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (span / (step * m) <= max_ticks) return step * m;
  }
  return step * 10;
}

std::string TickLabel(double v, double step) {
  if (step >= 1) return absl::StrFormat("%.0f", v);
  if (step >= 0.1) return absl::StrFormat("%.1f", v);
  if (step >= 0.01) return absl::StrFormat("%.2f", v);
  return absl::StrFormat("%.3f", v);
}

void Text(std::string& out, double x, double y, std::string_view text, const std::string& attrs) {
  absl::StrAppend(&out, "<text x=\"", F1(x), "\" y=\"", F1(y), "\" ", attrs, ">", Escape(text),
                  "</text>\n");
}

std::string EmptySvg(const History& history, const TimelineOptions& options) {
  std::string out =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"90\" viewBox=\"0 0 600 "
      "90\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\" font-size=\"12\">\n";
  absl::StrAppend(&out, "<title>", Escape(options.title), "</title>\n");
  out += "<rect width=\"600\" height=\"90\" fill=\"#ffffff\"/>\n";
  Text(out, 16, 28, options.title, "font-size=\"16\" font-weight=\"bold\"");
  Text(out, 16, 58, absl::StrCat("no operations (", Faults(history.faults.size()), ")"),
       "fill=\"#555555\"");
  out += "</svg>\n";
  return out;
}

// Fault labels at the top, in rows. A fault's line starts at its label's row and runs down through
// the rows below, so a label goes to the topmost row from which every row down is clear at its x
// (faults come in time order, so only the labels placed before can be in the way); if the full
// label finds no room it is shortened, and at last left out.
struct FaultLabel {
  std::string text;  // empty: none
  int row = 0;
};
constexpr int kMaxLabelRows = 6;

std::vector<FaultLabel> PlaceFaultLabels(const Model& model, const Frame& frame, int& rows_used) {
  std::vector<FaultLabel> labels(model.faults.size());
  std::vector<double> row_end(kMaxLabelRows, -1e9);
  rows_used = 0;
  for (size_t i = 0; i < model.faults.size(); ++i) {
    const FaultMark& mark = model.faults[i];
    const double x = frame.X(mark.fault->at_us);
    const std::string number = absl::StrCat("F", mark.number);
    for (const std::string& text :
         {absl::StrCat(number, " ", mark.fault->kind, " ", mark.fault->target),
          absl::StrCat(number, " ", mark.fault->kind), number}) {
      const double end = x + 3 + TextWidth(text, 10);
      if (end > frame.width - 4) continue;
      int row = -1;
      for (int r = kMaxLabelRows - 1; r >= 0 && row_end[r] < x - 1; --r) row = r;
      if (row < 0) continue;
      labels[i] = {text, row};
      row_end[row] = end + 4;
      rows_used = std::max(rows_used, row + 1);
      break;
    }
  }
  return labels;
}

// Faults are "dense" when they average fewer than this many pixels apart: then their lines are
// thin and translucent and they have no labels (the HTML table lists them).
constexpr double kDenseFaultPx = 12;

// The fault bands and lines across [plot_top, plot_bottom]; a labelled line starts at its label.
void DrawFaultMarks(std::string& out, const Model& model, const Frame& frame,
                    const std::vector<FaultLabel>& labels, bool dense, double labels_top,
                    double plot_top, double plot_bottom) {
  out += dense ? "<g fill-opacity=\"0.07\">\n" : "<g fill-opacity=\"0.16\">\n";
  for (const FaultMark& mark : model.faults) {
    if (mark.band_end_us <= mark.fault->at_us) continue;
    const double x0 = frame.X(mark.fault->at_us);
    const double w = std::max(1.0, frame.X(mark.band_end_us) - x0);
    absl::StrAppend(&out, "<rect x=\"", F1(x0), "\" y=\"", F1(plot_top), "\" width=\"", F1(w),
                    "\" height=\"", F1(plot_bottom - plot_top), "\" fill=\"",
                    FaultColour(mark.fault->kind), "\"",
                    mark.recovered_us ? ""
                                      : " fill-opacity=\"0.05\" stroke=\"#999999\" "
                                        "stroke-dasharray=\"3,3\" stroke-width=\"0.6\"",
                    "/>\n");
  }
  out += "</g>\n";
  absl::StrAppend(&out, "<g stroke-width=\"", dense ? "0.7\" stroke-opacity=\"0.5" : "1.5",
                  "\">\n");
  for (size_t i = 0; i < model.faults.size(); ++i) {
    const FaultMark& mark = model.faults[i];
    const Fault& fault = *mark.fault;
    const double x = frame.X(fault.at_us);
    const double line_top = labels[i].text.empty() ? plot_top : labels_top + labels[i].row * 13 - 9;
    std::string tooltip = absl::StrCat("F", mark.number, " ", fault.kind, " ", fault.target, " at ",
                                       Seconds(fault.at_us), " s");
    if (!fault.role.empty()) absl::StrAppend(&tooltip, " (", fault.role, ")");
    if (mark.recovered_us) {
      absl::StrAppend(&tooltip, ": a higher epoch answered after ",
                      Millis(*mark.recovered_us - fault.at_us), " ms");
    } else if (fault.bound_ms > 0) {
      absl::StrAppend(&tooltip, ": no higher epoch answered; the band is the bound, ",
                      fault.bound_ms, " ms");
    } else {
      absl::StrAppend(&tooltip, ": no higher epoch answered");
    }
    absl::StrAppend(&out, "<line x1=\"", F1(x), "\" x2=\"", F1(x), "\" y1=\"", F1(line_top),
                    "\" y2=\"", F1(plot_bottom), "\" stroke=\"", FaultColour(fault.kind),
                    "\"><title>", Escape(tooltip), "</title></line>\n");
  }
  out += "</g>\n";
}

void DrawFaultLabels(std::string& out, const Model& model, const Frame& frame,
                     const std::vector<FaultLabel>& labels, bool dense, double labels_top) {
  if (model.faults.empty()) return;
  Text(out, 16, labels_top + 2, "faults", "font-weight=\"bold\"");
  if (dense) {
    Text(out, frame.left, labels_top + 2,
         absl::StrCat(
             model.faults.size(),
             " faults, too close to label: hover a line, or see the table of the HTML page"),
         "fill=\"#555555\"");
    return;
  }
  for (size_t i = 0; i < model.faults.size(); ++i) {
    if (labels[i].text.empty()) continue;
    const char* colour = FaultColour(model.faults[i].fault->kind);
    Text(out, frame.X(model.faults[i].fault->at_us) + 3, labels_top + labels[i].row * 13,
         labels[i].text,
         absl::StrCat("font-size=\"10\" fill=\"", colour,
                      "\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\""));
  }
}

struct LatencyPoint {
  int64_t center_us;
  double p50_ms, p99_ms, max_ms;
};

std::vector<std::optional<LatencyPoint>> LatencyBuckets(const History& history, const Model& model,
                                                        const TimelineOptions& options) {
  const int64_t span = model.t1_us - model.t0_us;
  int64_t bucket = options.latency_bucket_ms > 0 ? options.latency_bucket_ms * 1000 : 250'000;
  bucket = std::max(bucket, (span + 599) / 600);
  const size_t n = static_cast<size_t>(span / bucket + 1);
  std::vector<std::vector<int64_t>> latencies(n);
  for (const Operation& op : history.ops) {
    if (op.outcome != Outcome::kOk) continue;
    latencies[static_cast<size_t>((op.complete_us - model.t0_us) / bucket)].push_back(
        std::max<int64_t>(0, op.complete_us - op.invoke_us));
  }
  std::vector<std::optional<LatencyPoint>> points(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<int64_t>& v = latencies[i];
    if (v.empty()) continue;
    auto at = [&v](double q) {
      auto nth = v.begin() + static_cast<std::ptrdiff_t>(q * static_cast<double>(v.size() - 1));
      std::nth_element(v.begin(), nth, v.end());
      return *nth / 1e3;
    };
    const double p50 = at(0.5), p99 = at(0.99);
    points[i] = LatencyPoint{model.t0_us + static_cast<int64_t>(i) * bucket + bucket / 2, p50, p99,
                             *std::max_element(v.begin(), v.end()) / 1e3};
  }
  return points;
}

// The latency panel within [top, top + height]: axes, grid and three polylines.
void DrawLatency(std::string& out, const History& history, const Model& model, const Frame& frame,
                 const TimelineOptions& options, double top, double height) {
  const std::vector<std::optional<LatencyPoint>> points = LatencyBuckets(history, model, options);
  double lo = std::numeric_limits<double>::max(), hi = 0;
  for (const auto& p : points) {
    if (!p) continue;
    lo = std::min(lo, p->p50_ms);
    hi = std::max(hi, p->max_ms);
  }
  const double bottom = top + height;
  absl::StrAppend(&out, "<rect x=\"", F1(frame.left), "\" y=\"", F1(top), "\" width=\"",
                  F1(frame.plot_w), "\" height=\"", F1(height),
                  "\" fill=\"none\" stroke=\"#bbbbbb\"/>\n");
  Text(out, 16, top + height / 2 - 6, "latency (ms)", "font-weight=\"bold\"");
  Text(out, 16, top + height / 2 + 8,
       options.log_latency ? "ok ops, log scale" : "ok ops, linear scale",
       "fill=\"#666666\" font-size=\"10\"");
  if (hi <= 0) {
    Text(out, frame.left + 8, top + height / 2, "no acknowledged operations", "fill=\"#666666\"");
    return;
  }
  std::function<double(double)> y;
  std::vector<double> ticks;
  if (options.log_latency) {
    // Headroom below the lowest p50, so that it does not run along the axis.
    const double lo_exp = std::floor(std::log10(std::max(lo / 2, 0.001)));
    double hi_exp = std::ceil(std::log10(std::max(hi, 0.001)));
    if (hi_exp <= lo_exp) hi_exp = lo_exp + 1;
    for (double e = lo_exp; e <= hi_exp; ++e) ticks.push_back(std::pow(10.0, e));
    y = [=](double v) {
      const double e = std::log10(std::max(v, std::pow(10.0, lo_exp)));
      return bottom - (e - lo_exp) / (hi_exp - lo_exp) * height;
    };
  } else {
    const double step = NiceStep(hi, 5);
    const double top_value = std::ceil(hi / step) * step;
    for (double v = 0; v <= top_value + step / 2; v += step) ticks.push_back(v);
    y = [=](double v) { return bottom - v / top_value * height; };
  }
  for (double v : ticks) {
    const double ty = y(v);
    absl::StrAppend(&out, "<line x1=\"", F1(frame.left), "\" x2=\"", F1(frame.left + frame.plot_w),
                    "\" y1=\"", F1(ty), "\" y2=\"", F1(ty), "\" stroke=\"#eeeeee\"/>\n");
    Text(out, frame.left - 6, ty + 4,
         v >= 1 ? absl::StrFormat("%.0f", v) : absl::StrFormat("%g", v),
         "text-anchor=\"end\" font-size=\"10\" fill=\"#444444\"");
  }
  auto series = [&](double LatencyPoint::*field, const char* colour, const char* extra,
                    const char* name) {
    absl::StrAppend(&out, "<g stroke=\"", colour, "\" fill=\"none\" ", extra, "><title>", name,
                    " latency per bucket</title>\n");
    std::string line;
    int in_line = 0;
    auto flush = [&] {
      if (in_line == 1) {  // a lone bucket: a dot
        const size_t comma = line.find(',');
        absl::StrAppend(&out, "<circle cx=\"", line.substr(0, comma), "\" cy=\"",
                        line.substr(comma + 1, line.size() - comma - 2), "\" r=\"1.5\" fill=\"",
                        colour, "\"/>\n");
      } else if (in_line > 1) {
        absl::StrAppend(&out, "<polyline points=\"", line, "\"/>\n");
      }
      line.clear();
      in_line = 0;
    };
    for (const auto& p : points) {
      if (!p) {
        flush();
        continue;
      }
      absl::StrAppend(&line, F1(frame.X(p->center_us)), ",", F1(y((*p).*field)), " ");
      ++in_line;
    }
    flush();
    out += "</g>\n";
  };
  series(&LatencyPoint::max_ms, kMaxColour, "stroke-width=\"1\"", "max");
  series(&LatencyPoint::p99_ms, kP99Colour, "stroke-width=\"1.3\"", "p99");
  series(&LatencyPoint::p50_ms, kP50Colour, "stroke-width=\"1.6\"", "p50");
}

// The error lane within [top, top + height]: failed above the midline, unknown below, one tick
// per pixel column with any, taller for more.
void DrawErrors(std::string& out, const History& history, const Frame& frame, double top,
                double height) {
  const size_t columns = static_cast<size_t>(std::max(1.0, frame.plot_w));
  std::vector<int64_t> failed(columns), unknown(columns);
  int64_t most = 0;
  for (const Operation& op : history.ops) {
    if (op.outcome == Outcome::kOk) continue;
    const size_t c =
        std::min(columns - 1, static_cast<size_t>(frame.X(op.complete_us) - frame.left));
    int64_t& n = op.outcome == Outcome::kFailed ? failed[c] : unknown[c];
    most = std::max(most, ++n);
  }
  Text(out, 16, top + height / 2 + 4, "client errors", "font-weight=\"bold\"");
  absl::StrAppend(&out, "<line x1=\"", F1(frame.left), "\" x2=\"", F1(frame.left + frame.plot_w),
                  "\" y1=\"", F1(top + height / 2), "\" y2=\"", F1(top + height / 2),
                  "\" stroke=\"#dddddd\"/>\n");
  const double half = height / 2 - 2;
  const double column_us = static_cast<double>(frame.t1 - frame.t0) / frame.plot_w;
  auto ticks = [&](const std::vector<int64_t>& counts, const char* colour, const char* what,
                   bool upper) {
    absl::StrAppend(&out, "<g fill=\"", colour, "\">\n");
    for (size_t c = 0; c < columns; ++c) {
      if (counts[c] == 0) continue;
      const double h =
          half * (0.45 + 0.55 * std::log1p(static_cast<double>(counts[c])) /
                             std::log1p(static_cast<double>(std::max<int64_t>(most, 1))));
      const double y = upper ? top + height / 2 - h : top + height / 2;
      const int64_t at_us = frame.t0 + static_cast<int64_t>(static_cast<double>(c) * column_us);
      absl::StrAppend(&out, "<rect x=\"", F1(frame.left + static_cast<double>(c)), "\" y=\"", F1(y),
                      "\" width=\"1.2\" height=\"", F1(h), "\"><title>", counts[c], " ", what,
                      " at ", absl::StrFormat("%.2f", at_us / 1e6), " s</title></rect>\n");
    }
    out += "</g>\n";
  };
  ticks(failed, kFailedColour, "failed", true);
  ticks(unknown, kUnknownColour, "unknown", false);
}

constexpr double kBarH = 20;
constexpr double kTrackH = 24;
constexpr double kGapLabelH = 14;

double LaneHeight(const Lane& lane) { return lane.tracks * kTrackH + kGapLabelH + 4; }

void DrawLane(std::string& out, const Lane& lane, const Model& model, const Frame& frame,
              const TimelineOptions& options, double top) {
  Text(out, 16, top + lane.tracks * kTrackH / 2 + 6, lane.role, "font-weight=\"bold\"");
  for (const EpochBar& bar : lane.bars) {
    const double x0 = frame.X(bar.first_us);
    const double w = std::max(1.5, frame.X(bar.last_us) - x0);
    const double y = top + 4 + bar.track * kTrackH;
    const std::string tooltip = absl::StrCat(
        lane.role, ": server ", bar.server_id, " · epoch ", bar.epoch, " answered ", bar.answers,
        " times from ", Seconds(bar.first_us), " s to ", Seconds(bar.last_us), " s");
    absl::StrAppend(&out, "<rect x=\"", F1(x0), "\" y=\"", F1(y), "\" width=\"", F1(w),
                    "\" height=\"", F1(kBarH), "\" rx=\"2\" fill=\"",
                    model.ServerColour(bar.server_id),
                    "\" stroke=\"#555555\" stroke-width=\"0.5\">", "<title>", Escape(tooltip),
                    "</title></rect>\n");
    for (const std::string& label :
         {absl::StrCat("server ", bar.server_id, " · epoch ", bar.epoch),
          absl::StrCat("s", bar.server_id, " · e", bar.epoch), absl::StrCat("e", bar.epoch)}) {
      if (TextWidth(label) + 8 <= w) {
        Text(out, x0 + 4, y + 14, label, "fill=\"#1a1a1a\" pointer-events=\"none\"");
        break;
      }
    }
  }
  const double gap_y = top + 4 + lane.tracks * kTrackH;
  double label_end = -1e9;
  for (const Gap& gap : lane.gaps) {
    if (gap.to_us - gap.from_us <= options.min_gap_ms * 1000) continue;
    const double x0 = frame.X(gap.from_us), x1 = frame.X(gap.to_us);
    const std::string ms = absl::StrCat(Millis(gap.to_us - gap.from_us), " ms");
    const std::string tooltip = absl::StrCat(
        lane.role, ": no answer for ", ms, " (server ", gap.before->server_id, " · epoch ",
        gap.before->epoch, " → server ", gap.after->server_id, " · epoch ", gap.after->epoch, ")");
    absl::StrAppend(&out, "<g stroke=\"#333333\"><title>", Escape(tooltip), "</title>",
                    "<line x1=\"", F1(x0), "\" x2=\"", F1(x1), "\" y1=\"", F1(gap_y), "\" y2=\"",
                    F1(gap_y), "\"/><line x1=\"", F1(x0), "\" x2=\"", F1(x0), "\" y1=\"",
                    F1(gap_y - 3), "\" y2=\"", F1(gap_y + 3), "\"/><line x1=\"", F1(x1), "\" x2=\"",
                    F1(x1), "\" y1=\"", F1(gap_y - 3), "\" y2=\"", F1(gap_y + 3), "\"/></g>\n");
    const double w = TextWidth(ms, 10);
    double x = (x0 + x1) / 2 - w / 2;
    x = std::clamp(x, frame.left, frame.left + frame.plot_w - w);
    if (x < label_end + 4) continue;  // would overlap the previous gap's label
    Text(out, x, gap_y + 12, ms, "font-size=\"10\" fill=\"#222222\"");
    label_end = x + w;
  }
}

// The legend: a flowing row of swatches; returns its height.
double DrawLegend(std::string& out, const Model& model, const Frame& frame, double top) {
  struct Item {
    std::string swatch;  // SVG at (0,0)-(16,10)
    std::string text;
  };
  std::vector<Item> items;
  for (int64_t server : model.servers) {
    items.push_back({absl::StrCat("<rect width=\"16\" height=\"10\" rx=\"2\" fill=\"",
                                  model.ServerColour(server), "\" stroke=\"#555555\" ",
                                  "stroke-width=\"0.5\"/>"),
                     absl::StrCat("server ", server)});
  }
  for (const std::string& kind : model.fault_kinds) {
    items.push_back({absl::StrCat("<line x1=\"8\" x2=\"8\" y1=\"-2\" y2=\"12\" stroke=\"",
                                  FaultColour(kind), "\" stroke-width=\"2\"/>"),
                     kind});
  }
  if (!model.faults.empty()) {
    items.push_back({"<rect width=\"16\" height=\"10\" fill=\"#888888\" fill-opacity=\"0.3\"/>",
                     "fault → higher epoch answered"});
    items.push_back(
        {"<rect width=\"16\" height=\"10\" fill=\"#888888\" fill-opacity=\"0.1\" "
         "stroke=\"#888888\" stroke-dasharray=\"3,2\"/>",
         "no higher epoch (bound)"});
  }
  items.push_back(
      {absl::StrCat("<rect x=\"6\" width=\"3\" height=\"10\" fill=\"", kFailedColour, "\"/>"),
       "failed"});
  items.push_back(
      {absl::StrCat("<rect x=\"6\" width=\"3\" height=\"10\" fill=\"", kUnknownColour, "\"/>"),
       "unknown"});
  items.push_back({absl::StrCat("<line x1=\"0\" x2=\"16\" y1=\"5\" y2=\"5\" stroke=\"", kP50Colour,
                                "\" stroke-width=\"2\"/>"),
                   "p50"});
  items.push_back({absl::StrCat("<line x1=\"0\" x2=\"16\" y1=\"5\" y2=\"5\" stroke=\"", kP99Colour,
                                "\" stroke-width=\"2\"/>"),
                   "p99"});
  items.push_back({absl::StrCat("<line x1=\"0\" x2=\"16\" y1=\"5\" y2=\"5\" stroke=\"", kMaxColour,
                                "\" stroke-width=\"2\"/>"),
                   "max"});
  double x = frame.left, y = top;
  for (const Item& item : items) {
    const double w = 22 + TextWidth(item.text) + 16;
    if (x + w > frame.width - frame.right && x > frame.left) {
      x = frame.left;
      y += 18;
    }
    absl::StrAppend(&out, "<g transform=\"translate(", F1(x), ",", F1(y), ")\">", item.swatch);
    Text(out, 22, 9.5, item.text, "");
    out += "</g>\n";
    x += w;
  }
  Text(out, 16, top + 9.5, "legend", "font-weight=\"bold\"");
  return y - top + 18;
}

}  // namespace

std::string TimelineSvg(const History& history, const TimelineOptions& options) {
  if (history.ops.empty()) return EmptySvg(history, options);
  const Model model = BuildModel(history);
  Frame frame;
  frame.width = std::max(600, options.width_px);
  frame.plot_w = frame.width - frame.left - frame.right;
  frame.t0 = model.t0_us;
  frame.t1 = model.t1_us;

  const bool dense_faults = static_cast<double>(model.faults.size()) * kDenseFaultPx > frame.plot_w;
  int label_rows = dense_faults ? 1 : 0;
  const std::vector<FaultLabel> labels = dense_faults ? std::vector<FaultLabel>(model.faults.size())
                                                      : PlaceFaultLabels(model, frame, label_rows);
  const double labels_top = 62;
  const double plot_top = labels_top + label_rows * 13 + (label_rows > 0 ? 4 : 0);
  double lanes_h = 0;
  for (const Lane& lane : model.lanes) lanes_h += LaneHeight(lane);
  const double errors_top = plot_top + lanes_h;
  const double errors_h = 34;
  const double latency_top = errors_top + errors_h + 10;
  const double latency_h = 170;
  const double plot_bottom = latency_top + latency_h;
  const double legend_top = plot_bottom + 44;

  std::string body;
  // The time grid, under everything.
  const double step_s =
      NiceStep(model.DurationS(), std::max(4, static_cast<int>(frame.plot_w / 90)));
  for (int64_t k = static_cast<int64_t>(std::ceil(model.t0_us / 1e6 / step_s));
       k * step_s <= model.t1_us / 1e6 + 1e-9; ++k) {
    const double s = static_cast<double>(k) * step_s;
    const double x = frame.X(static_cast<int64_t>(std::llround(s * 1e6)));
    absl::StrAppend(&body, "<line x1=\"", F1(x), "\" x2=\"", F1(x), "\" y1=\"", F1(plot_top),
                    "\" y2=\"", F1(plot_bottom + 4), "\" stroke=\"#ececec\"/>\n");
    Text(body, x, plot_bottom + 16, TickLabel(s, step_s),
         "text-anchor=\"middle\" font-size=\"10\" fill=\"#444444\"");
  }
  Text(body, frame.left + frame.plot_w / 2, plot_bottom + 32, "time since the run began (s)",
       "text-anchor=\"middle\" fill=\"#444444\"");
  // Lane backgrounds.
  double y = plot_top;
  for (size_t i = 0; i < model.lanes.size(); ++i) {
    absl::StrAppend(&body, "<rect x=\"", F1(frame.left), "\" y=\"", F1(y), "\" width=\"",
                    F1(frame.plot_w), "\" height=\"", F1(LaneHeight(model.lanes[i])), "\" fill=\"",
                    i % 2 == 0 ? "#f7f7f7" : "#fbfbfb", "\"/>\n");
    y += LaneHeight(model.lanes[i]);
  }
  // Faults: bands and lines behind the data (a bar shows that its server kept answering through
  // a fault), labels on top.
  DrawFaultMarks(body, model, frame, labels, dense_faults, labels_top, plot_top, plot_bottom);
  y = plot_top;
  for (const Lane& lane : model.lanes) {
    DrawLane(body, lane, model, frame, options, y);
    y += LaneHeight(lane);
  }
  DrawErrors(body, history, frame, errors_top, errors_h);
  DrawLatency(body, history, model, frame, options, latency_top, latency_h);
  DrawFaultLabels(body, model, frame, labels, dense_faults, labels_top);
  const double legend_h = DrawLegend(body, model, frame, legend_top);
  const double height = legend_top + legend_h + 8;

  std::string out = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 "
      "%.0f %.0f\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\" font-size=\"11\">\n",
      frame.width, height, frame.width, height);
  absl::StrAppend(&out, "<title>", Escape(options.title), "</title>\n");
  absl::StrAppend(&out, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
  Text(out, 16, 26, options.title, "font-size=\"17\" font-weight=\"bold\"");
  Text(out, 16, 45,
       absl::StrCat(history.ops.size(), " operations (", model.ok, " ok · ", model.failed,
                    " failed · ", model.unknown, " unknown) · ", Faults(history.faults.size()),
                    " · ", absl::StrFormat("%.1f", model.DurationS()), " s"),
       "fill=\"#555555\"");
  out += body;
  out += "</svg>\n";
  return out;
}

std::string TimelineHtml(const History& history, const TimelineOptions& options) {
  const Model model = BuildModel(history);
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>",
      Escape(options.title), "</title>\n",
      "<style>\nbody{font-family:\"DejaVu Sans\",Verdana,Arial,sans-serif;margin:16px;"
      "color:#222}\ntable{border-collapse:collapse;margin:6px 0 22px;font-size:13px}\n"
      "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}\nth{background:#f0f0f0}\n"
      ".l{text-align:left}\n.picture{overflow-x:auto}\n</style>\n</head>\n<body>\n",
      "<div class=\"picture\">\n", TimelineSvg(history, options), "</div>\n");

  out +=
      "<h2>Epochs</h2>\n<table>\n<tr><th class=\"l\">role</th><th>server</th><th>epoch</th>"
      "<th>first answer (s)</th><th>last answer (s)</th><th>answers</th></tr>\n";
  for (const Lane& lane : model.lanes) {
    for (const EpochBar& bar : lane.bars) {
      absl::StrAppend(&out, "<tr><td class=\"l\">", Escape(lane.role), "</td><td>", bar.server_id,
                      "</td><td>", bar.epoch, "</td><td>", Seconds(bar.first_us), "</td><td>",
                      Seconds(bar.last_us), "</td><td>", bar.answers, "</td></tr>\n");
    }
  }
  out += "</table>\n";

  out +=
      "<h2>Faults</h2>\n<table>\n<tr><th>#</th><th>time (s)</th><th class=\"l\">kind</th>"
      "<th class=\"l\">target</th><th class=\"l\">role</th><th>bound (ms)</th>"
      "<th>higher epoch answered after (ms)</th></tr>\n";
  for (const FaultMark& mark : model.faults) {
    const Fault& fault = *mark.fault;
    absl::StrAppend(&out, "<tr><td>F", mark.number, "</td><td>", Seconds(fault.at_us),
                    "</td><td class=\"l\">", Escape(fault.kind), "</td><td class=\"l\">",
                    Escape(fault.target), "</td><td class=\"l\">", Escape(fault.role), "</td><td>",
                    fault.bound_ms > 0 ? absl::StrCat(fault.bound_ms) : "—", "</td><td>",
                    mark.recovered_us ? Millis(*mark.recovered_us - fault.at_us) : "none",
                    "</td></tr>\n");
  }
  out += "</table>\n";

  out +=
      "<h2>Operations</h2>\n<table>\n<tr><th class=\"l\">kind</th><th>ok</th><th>failed</th>"
      "<th>unknown</th><th>total</th></tr>\n";
  int64_t totals[4] = {};
  for (Kind kind : {Kind::kTimestamp, Kind::kId, Kind::kDdl, Kind::kSegment}) {
    const int64_t* row = model.counts[static_cast<int>(kind)];
    absl::StrAppend(&out, "<tr><td class=\"l\">", KindName(kind), "</td>");
    for (int o = 0; o < 3; ++o) {
      absl::StrAppend(&out, "<td>", row[o], "</td>");
      totals[o] += row[o];
    }
    absl::StrAppend(&out, "<td>", row[0] + row[1] + row[2], "</td></tr>\n");
    totals[3] += row[0] + row[1] + row[2];
  }
  absl::StrAppend(&out, "<tr><th class=\"l\">all</th><th>", totals[0], "</th><th>", totals[1],
                  "</th><th>", totals[2], "</th><th>", totals[3], "</th></tr>\n</table>\n");
  out += "</body>\n</html>\n";
  return out;
}

absl::Status WriteTimeline(const History& history, const TimelineOptions& options,
                           const std::string& dir) {
  const std::pair<std::string, std::string> files[] = {
      {absl::StrCat(dir, "/timeline.svg"), TimelineSvg(history, options)},
      {absl::StrCat(dir, "/timeline.html"), TimelineHtml(history, options)}};
  for (const auto& file : files) {
    const std::string& path = file.first;
    const std::string& text = file.second;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("timeline: cannot write ", path, ": ", std::strerror(errno)));
    }
    const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    const int write_errno = errno;
    if (std::fclose(f) != 0 || !written) {
      return absl::FailedPreconditionError(absl::StrCat(
          "timeline: cannot write ", path, ": ", std::strerror(written ? errno : write_errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace coordha::chaos
