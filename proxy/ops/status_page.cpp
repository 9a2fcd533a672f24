#include "proxy/ops/status_page.hpp"

#include "common/units.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace pt::ops {
namespace {

constexpr std::string_view kStyle = R"(
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222;background:#fafafa}
h1{margin-bottom:0}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
.sub{color:#666;margin-top:.2em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(13em,1fr));gap:1em}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em 1em}
.card .label{color:#666;font-size:.9em}.card .value{font-size:1.8em;font-weight:600}
.card .detail{color:#666;font-size:.85em}
.bar{background:#e5e5e5;border-radius:3px;height:.6em;margin-top:.4em}
.bar div{background:#3a7;height:100%;border-radius:3px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left}td.n,th.n{text-align:right}
pre{background:#fff;border:1px solid #ddd;padding:.8em;overflow-x:auto}
)";

std::string card(std::string_view id, std::string_view label, const std::string& value, const std::string& detail,
                 const std::string& extra = {}) {
  return fmt::format("<div class=\"card\"><div class=\"label\">{}</div><div class=\"value\" id=\"{}\">{}</div>"
                     "<div class=\"detail\">{}</div>{}</div>\n",
                     label, id, value, detail, extra);
}

// A size for people, with the exact byte count beside it.
std::string size_with_bytes(std::uint64_t bytes) {
  return fmt::format("{} <span class=\"detail\">({} bytes)</span>", html_escape(format_size(bytes)),
                     group_digits(bytes));
}

std::string figures(const MetricsSnapshot& m) {
  std::string out = "<div class=\"cards\">\n";
  out += card("hit-ratio", "Hit ratio", format_percent(m.hit_ratio()),
              fmt::format("<span id=\"hits\">{}</span> requests from the cache, <span id=\"misses\">{}</span> "
                          "from upstream (cacheable requests only)",
                          group_digits(m.cache_hits()), group_digits(m.cache_misses())));
  out += card("bytes-saved", "Bytes saved (served from the cache)", html_escape(format_size(m.bytes_from_cache)),
              fmt::format("<span id=\"bytes-from-cache\">{}</span> bytes; byte hit ratio "
                          "<span id=\"byte-hit-ratio\">{}</span>",
                          group_digits(m.bytes_from_cache), format_percent(m.byte_hit_ratio())));
  out += card("bytes-upstream", "Served from upstream", html_escape(format_size(m.bytes_from_upstream)),
              fmt::format("<span id=\"bytes-from-upstream\">{}</span> bytes", group_digits(m.bytes_from_upstream)));
  if (m.cache) {
    const auto& c = *m.cache;
    const double used = c.max_bytes ? static_cast<double>(c.bytes) / static_cast<double>(c.max_bytes) : 0.0;
    const double width = std::clamp(used * 100, 0.0, 100.0);
    out += card("cache-use", "Cache use", format_percent(c.max_bytes ? std::optional(used) : std::nullopt),
                fmt::format("{} of {} (<span id=\"cache-bytes\">{}</span> bytes)", html_escape(format_size(c.bytes)),
                            html_escape(format_size(c.max_bytes)), group_digits(c.bytes)),
                fmt::format("<div class=\"bar\"><div style=\"width:{:.1f}%\"></div></div>", width));
    out += card("cache-entries", "Cache entries", group_digits(c.entries),
                fmt::format("in {} file(s); {} download(s) in flight; {} file(s) ({}) evicted since start",
                            group_digits(c.files), group_digits(c.fills_in_flight), group_digits(c.evicted_files),
                            html_escape(format_size(c.evicted_bytes))));
  } else {
    out += card("cache-use", "Cache use", "off", "caching is disabled");
  }
  out += "</div>\n";
  return out;
}

std::string top_images(const MetricsSnapshot& m) {
  std::string out = "<h2>Top images</h2>\n";
  if (m.top_images.empty()) return out + "<p>No image pulled through the proxy yet.</p>\n";
  out += "<table id=\"top-images\">\n<tr><th>image</th><th class=\"n\">from the cache</th>"
         "<th class=\"n\">from upstream</th><th class=\"n\">requests</th></tr>\n";
  for (const auto& image : m.top_images) {
    out += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                       html_escape(image.image), size_with_bytes(image.from_cache),
                       size_with_bytes(image.from_upstream), group_digits(image.requests));
  }
  out += "</table>\n";
  if (m.images_tracked > m.top_images.size()) {
    out += fmt::format("<p class=\"sub\">{} of {} images seen since start.</p>\n", m.top_images.size(),
                       m.images_tracked);
  }
  return out;
}

std::string cached_tags(const StatusPageInput& input) {
  if (!input.cached_tags) return {};
  const auto& tags = *input.cached_tags;
  std::string out = "<h2>Cached images</h2>\n";
  if (tags.recent.empty()) return out + "<p>No tag cached yet.</p>\n";
  out += "<table id=\"cached-images\">\n<tr><th>image</th><th>digest</th><th>type</th>"
         "<th class=\"n\">variants</th><th class=\"n\">updated</th></tr>\n";
  for (const auto& tag : tags.recent) {
    const auto age = std::chrono::duration_cast<std::chrono::seconds>(input.now - tag.updated);
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{} ago</td></tr>\n",
                       html_escape(tag.name), html_escape(tag.digest.str().substr(0, 19)),
                       html_escape(tag.media_type), tag.variants,
                       format_uptime(std::max(age, std::chrono::seconds(0))));
  }
  out += "</table>\n";
  if (tags.total > tags.recent.size()) {
    out += fmt::format("<p class=\"sub\">{} most recently fetched of {} cached tags (all: <code>pullthrough cache ls</code>).</p>\n",
                       tags.recent.size(), group_digits(tags.total));
  }
  return out;
}

// PEERS: who the members are and which this replica skips now (after a failure, for
// PEERS_REFRESH), with what went over the peer link.
std::string cluster_members(const MetricsSnapshot& m) {
  if (!m.peers) return {};
  const auto& p = *m.peers;
  std::string out = "<h2>Cluster</h2>\n";
  out += fmt::format("<p>{} of {} members up; {} requests ({}) forwarded to their owner, {} ({}) served for other "
                     "replicas, {} peer failures.</p>\n",
                     p.up(), p.members.size(), group_digits(p.forwarded_requests), html_escape(format_size(p.forwarded_bytes)),
                     group_digits(p.served_requests), html_escape(format_size(p.served_bytes)), group_digits(p.failures));
  if (p.members.empty()) return out + "<p>No member known yet (PEERS names none, or its name did not resolve).</p>\n";
  out += "<table id=\"members\">\n<tr><th>member</th><th>state</th></tr>\n";
  for (const auto& member : p.members) {
    const std::string_view state = member.self ? "this replica" : member.up ? "up" : "down (skipped for now)";
    out += fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", html_escape(member.member), state);
  }
  out += "</table>\n";
  return out;
}

std::string requests_table(const MetricsSnapshot& m) {
  std::string out = "<h2>Requests</h2>\n";
  if (m.requests.empty()) return out + "<p>No request served yet.</p>\n";
  out += "<table id=\"requests\">\n<tr><th>cache</th><th>status</th><th class=\"n\">requests</th></tr>\n";
  auto rows = m.requests;
  std::stable_sort(rows.begin(), rows.end(), [](const RequestCount& a, const RequestCount& b) {
    return a.cache != b.cache ? cache_label(a.cache) < cache_label(b.cache) : a.status < b.status;
  });
  for (const auto& r : rows) {
    out += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>\n", html_escape(cache_label(r.cache)),
                       r.status == 0 ? std::string("none sent") : std::to_string(r.status), group_digits(r.count));
  }
  out += "</table>\n";
  return out;
}

// The Host header, when it looks like one: it is pasted into shell commands on the page.
bool plausible_authority(std::string_view text) {
  return !text.empty() && text.size() <= 255 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == ':' || c == '[' || c == ']' || c == '_';
  });
}

std::string setup(std::string_view proxy_address) {
  const std::string address =
      html_escape(plausible_authority(proxy_address) ? proxy_address : std::string_view("proxy.example:3128"));
  return fmt::format(R"(<h2>Set up a client</h2>
<p>Clients pull as usual through this proxy: they send HTTPS through it and trust its root CA
(<a href="/ca.crt">/ca.crt</a>, PEM).</p>
<p>On a Docker host, as root, the script at <a href="/setup/systemd">/setup/systemd</a> sets this up:</p>
<pre>curl -fsSL http://{0}/setup/systemd | sh</pre>
<p>Or by hand, on a Debian or Ubuntu Docker host, as root:</p>
<pre>mkdir -p /etc/systemd/system/docker.service.d
cat &gt; /etc/systemd/system/docker.service.d/http-proxy.conf &lt;&lt;EOD
[Service]
Environment="HTTPS_PROXY=http://{0}/"
EOD
curl http://{0}/ca.crt &gt; /usr/local/share/ca-certificates/pullthrough.crt
update-ca-certificates
systemctl daemon-reload &amp;&amp; systemctl restart docker</pre>
<p>Other endpoints: <a href="/metrics">/metrics</a> (Prometheus), <a href="/healthz">/healthz</a>.</p>
)",
                     address);
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters would not render; show them as a replacement character.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += "&#xFFFD;";
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string format_percent(std::optional<double> ratio) {
  if (!ratio) return "n/a";
  return fmt::format("{:.1f}%", *ratio * 100);
}

std::string group_digits(std::uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format_uptime(std::chrono::seconds uptime) {
  auto s = std::max<std::int64_t>(uptime.count(), 0);
  const auto days = s / 86400;
  const auto hours = s / 3600 % 24;
  const auto minutes = s / 60 % 60;
  const auto seconds = s % 60;
  if (days > 0) return fmt::format("{}d {}h {}m", days, hours, minutes);
  if (hours > 0) return fmt::format("{}h {}m", hours, minutes);
  if (minutes > 0) return fmt::format("{}m {}s", minutes, seconds);
  return fmt::format("{}s", seconds);
}

std::string render_status_page(const StatusPageInput& input) {
  const auto& m = input.metrics;
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<meta http-equiv=\"refresh\" content=\"30\">\n"
         // An empty icon: the browser would otherwise ask for /favicon.ico on every refresh.
         "<link rel=\"icon\" href=\"data:,\">\n<title>pullthrough status</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<h1>pullthrough</h1>\n";
  out += fmt::format("<p class=\"sub\">Caching proxy for container registries, version <span id=\"version\">{}</span>, "
                     "up <span id=\"uptime\">{}</span>.</p>\n",
                     html_escape(input.version), format_uptime(m.uptime));
  out += figures(m);
  out += top_images(m);
  out += cached_tags(input);
  out += cluster_members(m);
  out += requests_table(m);
  out += setup(input.proxy_address);
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace pt::ops
