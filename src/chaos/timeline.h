// The timeline: a chaos run's History (chaos/history.h) as one picture an operator reads at a
// glance — who was active when, where the faults hit, how long each failover took, which client
// calls failed and what latency the clients saw. Issue "Chaos and correctness".
//
// The picture is a self-contained SVG (no scripts, no external fonts or files), and an HTML page
// that embeds it above tables of the same facts in numbers. It aggregates: its size depends on the
// run's length and number of faults, not on the number of operations (a million operations make
// a picture of a few hundred KB). A leaf: no etcd, no processes.
#ifndef COORDHA_CHAOS_TIMELINE_H_
#define COORDHA_CHAOS_TIMELINE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "chaos/history.h"

namespace coordha::chaos {

struct TimelineOptions {
  // The heading of the picture and the page, e.g. "coordha chaos — seed 42". Escaped.
  // Default: "coordha chaos".
  std::string title = "coordha chaos";

  // The width of the SVG in pixels; the height follows from the number of roles.
  // Default: 1400. REQUIRES: >= 600 (smaller values are raised to 600).
  int width_px = 1400;

  // The width of a latency bucket. 0: 250 ms. Whatever is asked, the bucket is widened so that
  // the run has at most 600 of them (a longer run gets coarser buckets, not a bigger file).
  // Default: 0.
  int64_t latency_bucket_ms = 0;

  // A gap between two epochs' bars wider than this is annotated with its length: the time no
  // server of the role answered during a failover. Default: 50.
  int64_t min_gap_ms = 50;

  // The latency panel's scale: logarithmic (a failover's multi-second stalls and the
  // sub-millisecond normal answers both stay readable) or linear. Default: true.
  bool log_latency = true;
};

// The timeline as an SVG document (UTF-8, starts with "<svg", ends with "</svg>\n"). From top to
// bottom, sharing one x axis (seconds since the run began, with tick labels):
//
//   faults       a vertical line per fault across all panels, coloured by fault kind, labelled
//                "F<n> kind target" at the top (labels that would overlap are shortened to
//                "F<n> kind" or "F<n>", or left out; the tooltip always has them; when faults are
//                on average less than 12 px apart, the lines are thin and translucent and none is
//                labelled). A shaded band runs from the fault to the moment a higher epoch of its
//                role first answered — the failover time. When no higher epoch answered before
//                the next fault of that role, the band is paler, dashed and ends at the fault's
//                bound (none when the bound is 0). A fault with no role concerns every role (its
//                window ends at the next fault of any role).
//   role lanes   one lane per role (an op's role, "rootcoord" when empty): for each (role, epoch,
//                server) a bar from its first to its last acknowledged answer (complete_us),
//                labelled "server N · epoch E" and coloured by server, so a flip between servers
//                shows as a change of colour. Bars that overlap in time (two epochs answering at
//                once) are stacked. A gap between bars wider than min_gap_ms is a failover: it is
//                bracketed and labelled with its length in ms.
//   errors       ticks where client calls ended "failed" (upper half) or "unknown" (lower half),
//                aggregated per pixel column; a taller tick means more errors there.
//   latency      per bucket, the p50, p99 and max of complete_us - invoke_us of the acknowledged
//                operations (of every role) completed in it, as polylines (broken where a bucket
//                had none).
//
// Fault bands and lines are drawn behind the bars, ticks and polylines (a bar crossing a fault's
// line shows that its server kept answering through it); fault labels are on top.
//
// Then a legend (servers, fault kinds, error kinds, latency series). Bars, faults, gaps and error
// ticks carry <title> tooltips. An empty history gives a small valid SVG saying "no operations".
// Acknowledged answers with epoch 0 count in the latency panel but draw no bar. Operations and
// faults may come in any order.
std::string TimelineSvg(const History& history, const TimelineOptions& options = {});

// An HTML page (UTF-8, no scripts, no external resources) titled options.title, with the SVG of
// TimelineSvg() inline and, under it, tables: the epochs of each role (server, epoch, first and
// last answer time, answers), the faults (time, kind, target, role, bound, time until a higher
// epoch answered), and the number of operations by kind and outcome. All text is escaped.
std::string TimelineHtml(const History& history, const TimelineOptions& options = {});

// Writes `dir`/timeline.svg and `dir`/timeline.html. `dir` must exist.
// Errors: kFailedPrecondition naming the file and the reason (strerror) when it cannot be
// written.
absl::Status WriteTimeline(const History& history, const TimelineOptions& options,
                           const std::string& dir);

}  // namespace coordha::chaos

#endif  // COORDHA_CHAOS_TIMELINE_H_
