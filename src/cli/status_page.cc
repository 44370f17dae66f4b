#include "cli/status_page.h"

#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace coordha::cli {
namespace {

// Every piece of text from /cluster reaches the DOM through textContent or setAttribute (el()
// below), never innerHTML: session records come from etcd and are not trusted markup.
constexpr std::string_view kHtml = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>coordha cluster</title>
<style>
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
         background: #f4f5f7; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 12px 24px; display: flex;
           align-items: baseline; gap: 16px; }
  header h1 { font-size: 18px; margin: 0; }
  #summary { color: #c5cbd8; }
  main { padding: 16px 24px; }
  #banner { display: none; background: #c62828; color: #fff; padding: 10px 24px;
            font-weight: 600; }
  #banner.show { display: block; }
  .stale { opacity: 0.45; }
  #roles { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr));
           gap: 16px; }
  section { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.12);
            padding: 12px 16px; }
  h2 { font-size: 16px; margin: 0 0 8px; display: flex; gap: 10px; align-items: center; }
  table { border-collapse: collapse; width: 100%; }
  th { text-align: left; font-weight: 600; color: #5b6475; border-bottom: 1px solid #dde1e8;
       padding: 4px 8px; font-size: 12px; text-transform: uppercase; }
  td { padding: 5px 8px; border-bottom: 1px solid #eef0f4; font-variant-numeric: tabular-nums; }
  tr.active td { background: #e6f4ea; font-weight: 600; }
  .badge { white-space: nowrap; border-radius: 10px; padding: 1px 8px; font-size: 12px; font-weight: 600; }
  .ok { background: #1e8e3e; color: #fff; }
  .bad { background: #c62828; color: #fff; }
  .muted { color: #7a8294; font-weight: 400; }
  #failovers { margin-top: 16px; }
  .empty { color: #7a8294; padding: 6px 8px; }
  #problems { color: #b26a00; margin-top: 12px; }
</style>
</head>
<body>
<header><h1>coordha cluster</h1><span id="summary">loading…</span></header>
<div id="banner" role="alert"></div>
<main id="content">
  <div id="roles"></div>
  <section id="failovers"><h2>Recent failovers</h2><div id="failover-body"></div></section>
  <div id="problems"></div>
</main>
<script>
'use strict';
const $ = (id) => document.getElementById(id);
// Builds an element; children are nodes or plain text (never parsed as HTML).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}
const CAUSES = {
  proof: 'the old active was dead on this host',
  suspect: 'the old active stopped renewing its lease',
  refused: 'the old active refused connections',
  stream: 'the old active\'s keepalive stream ended',
  switchover: 'switchover requested',
  resigned: 'the old active resigned (clean stop)',
  expired: 'the old active\'s lease expired',
};
const dash = (n) => (n === null || n === undefined || n <= 0 ? '-' : String(n));
function clock(ms) { return new Date(ms).toLocaleTimeString(); }
function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago'
                                           : Math.round(s / 3600) + ' h ago';
}

// What a worker was given, from the coordinators' placement records: "channel: 2, segment: 1".
function work(byKind) {
  const parts = Object.entries(byKind || {}).map(([kind, n]) => kind + ': ' + n);
  return parts.length > 0 ? parts.join(', ') : 'idle';
}

function renderRole(role, sessions) {
  const head = el('h2', {}, role.role);
  if (role.hasActive === true) {
    head.append(el('span', {class: 'badge ok'}, 'active: server ' + role.activeServerId),
                el('span', {class: 'muted'}, 'epoch ' + role.epoch));
  } else if (role.hasActive === false) {
    head.append(el('span', {class: 'badge bad'}, 'NO ACTIVE'));
  }
  // Coordinators: role and epoch per replica. Workers: what each was given instead.
  const worker = role.hasActive === undefined;
  const headers = worker ? ['Server', 'Address', 'State', 'Lease left', 'PID', 'Work']
                         : ['Server', 'Address', 'Role', 'State', 'Epoch', 'Lease left', 'PID'];
  const table = el('table', {}, el('tr', {}, ...headers.map((h) => el('th', {}, h))));
  for (const s of sessions) {
    const attrs = {class: s.active ? 'replica active' : 'replica'};
    if (s.active) attrs['data-active-of'] = s.role;
    const lease = s.leaseTtlLeft >= 0 ? s.leaseTtlLeft + ' s' : '-';
    table.append(el('tr', attrs, ...(worker
        ? [el('td', {}, s.serverId), el('td', {}, s.address), el('td', {}, s.state),
           el('td', {}, lease), el('td', {}, dash(s.pid)),
           el('td', {class: 'work'}, work(s.work))]
        : [el('td', {}, s.serverId), el('td', {}, s.address),
           el('td', {}, s.active ? el('span', {class: 'badge ok'}, '\u25cf active') : 'standby'),
           el('td', {}, s.state), el('td', {}, dash(s.epoch)), el('td', {}, lease),
           el('td', {}, dash(s.pid))])));
  }
  if (sessions.length === 0) {
    table.append(el('tr', {}, el('td', {colspan: headers.length}, 'no sessions')));
  }
  return el('section', {class: 'role', id: 'role-' + role.role}, head, table);
}

function renderFailovers(roles) {
  const list = roles.filter((r) => r.lastFailover)
                    .sort((a, b) => b.lastFailover.atUnixMs - a.lastFailover.atUnixMs);
  if (list.length === 0) return el('div', {class: 'empty'}, 'no failover recorded yet');
  const table = el('table', {},
      el('tr', {}, ...['When', 'Role', 'Takeover', 'Epoch', 'Cause', 'Serving after']
                        .map((h) => el('th', {}, h))));
  for (const r of list) {
    const f = r.lastFailover;
    const who = f.previousServerId > 0
        ? 'server ' + f.serverId + ' took over from server ' + f.previousServerId
        : 'server ' + f.serverId + ' became active';
    table.append(el('tr', {class: 'failover', 'data-failover': r.role, 'data-cause': f.cause},
        el('td', {}, f.atUnixMs > 0 ? clock(f.atUnixMs) + ' (' + ago(f.atUnixMs) + ')' : '-'),
        el('td', {}, r.role),
        el('td', {}, who),
        el('td', {}, (f.previousEpoch > 0 ? f.previousEpoch + ' \u2192 ' : '') + f.epoch),
        el('td', {}, el('b', {}, f.cause), CAUSES[f.cause] ? ' \u2014 ' + CAUSES[f.cause] : ''),
        el('td', {}, f.tookMs + ' ms')));
  }
  return table;
}

function render(view) {
  const roles = view.roles || [];
  const sessions = view.sessions || [];
  // Coordinators (which have an active) first, then workers; each group by name.
  const sorted = roles.slice().sort((a, b) =>
      (a.hasActive === undefined) - (b.hasActive === undefined) || a.role.localeCompare(b.role));
  $('roles').replaceChildren(...sorted.map(
      (r) => renderRole(r, sessions.filter((s) => s.role === r.role))));
  if (sorted.length === 0) {
    $('roles').replaceChildren(el('section', {}, 'no sessions under ' + view.prefix));
  }
  $('failover-body').replaceChildren(renderFailovers(roles));
  $('problems').replaceChildren(
      ...(view.problems || []).map((p) => el('div', {}, '\u26a0 ' + p)),
      ...Object.entries(view.unplaced || {}).map(([c, n]) => el('div', {},
          '\u26a0 ' + c + ': ' + n + ' items on no live worker')));
  const coords = roles.filter((r) => r.hasActive !== undefined);
  const actives = coords.filter((r) => r.hasActive).length;
  $('summary').textContent = actives + ' of ' + coords.length + ' coordinator roles active \u00b7 ' +
      sessions.length + ' sessions \u00b7 etcd revision ' + view.revision + ' \u00b7 updated ' +
      clock(Date.now());
}

function fail(message) {
  $('banner').textContent = 'Cannot read the cluster: ' + message +
      ' \u2014 showing the last state read, which may be out of date.';
  $('banner').classList.add('show');
  $('content').classList.add('stale');
}

async function poll() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 2000);
  try {
    const response = await fetch('/cluster', {cache: 'no-store', signal: abort.signal});
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      fail('etcd unreachable (' + (body.error || 'HTTP ' + response.status) + ')');
    } else {
      render(body);
      $('banner').classList.remove('show');
      $('content').classList.remove('stale');
    }
  } catch (e) {
    fail('coordha up does not answer (' + e.message + ')');
  } finally {
    clearTimeout(timer);
    setTimeout(poll, 1000);
  }
}
poll();
</script>
</body>
</html>
)html";

std::string ErrorBody(absl::string_view message) {
  return nlohmann::json({{"error", std::string(message)}})
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string_view StatusPageHtml() { return kHtml; }

absl::StatusOr<std::unique_ptr<StatusPage>> StatusPage::Start(const StatusPageOptions& options) {
  std::unique_ptr<StatusPage> page(new StatusPage(options.host));
  {
    MutexLock lock(&page->mu_);
    page->cluster_body_ = ErrorBody("no read of etcd yet");
  }
  const StatusPage* self = page.get();  // outlives server_, which it owns
  std::map<std::string, http::Handler> routes = {{"/",
                                                  [] {
                                                    return http::Response{
                                                        .content_type = "text/html; charset=utf-8",
                                                        .body = std::string(kHtml)};
                                                  }},
                                                 {"/cluster", [self] { return self->Cluster(); }}};
  absl::StatusOr<std::unique_ptr<http::Server>> server = http::Server::Start(
      http::ServerOptions{
          .host = options.host, .port = options.port, .port_is_default = options.port_is_default},
      std::move(routes));
  if (!server.ok()) {
    if (server.status().code() == absl::StatusCode::kFailedPrecondition) {
      return absl::FailedPreconditionError(absl::StrCat(
          "status page port ", options.port, " is taken (pass --page-port with a free port)"));
    }
    return absl::Status(server.status().code(),
                        absl::StrCat("status page: ", server.status().message()));
  }
  page->server_ = *std::move(server);
  return page;
}

StatusPage::~StatusPage() {
  if (server_ != nullptr) server_->Stop();
}

std::string StatusPage::url() const {
  std::string host = host_;
  if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
  if (absl::StrContains(host, ':')) host = absl::StrCat("[", host, "]");
  return absl::StrCat("http://", host, ":", port(), "/");
}

void StatusPage::Publish(const absl::StatusOr<ClusterView>& view) {
  int status = 503;
  std::string body;
  if (!view.ok()) {
    body = ErrorBody(view.status().message());
  } else {
    try {
      body = RenderJson(*view);
      status = 200;
    } catch (const nlohmann::json::exception& e) {  // e.g. a session record that is not UTF-8
      body = ErrorBody(absl::StrCat("cannot render the view as JSON: ", e.what()));
    }
  }
  MutexLock lock(&mu_);
  cluster_status_ = status;
  cluster_body_ = std::move(body);
}

http::Response StatusPage::Cluster() const {
  MutexLock lock(&mu_);
  return http::Response{
      .status = cluster_status_, .content_type = "application/json", .body = cluster_body_};
}

}  // namespace coordha::cli
