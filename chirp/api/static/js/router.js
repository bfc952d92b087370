// Hash routes: #/, #/users/<username>, #/search?q=…&type=…, #/notifications,
// #/hashtag/<tag>. Anything else is home.

/** The route ``hash`` names: ``{name, ...params}``. */
export function parseRoute(hash) {
  const path = hash.replace(/^#/, "") || "/";
  const [pathname, query = ""] = path.split("?", 2);
  const parts = pathname.split("/").filter(Boolean).map(safeDecode);
  const params = new URLSearchParams(query);
  if (parts[0] === "users" && parts[1]) return { name: "profile", username: parts[1] };
  if (parts[0] === "notifications") return { name: "notifications" };
  if (parts[0] === "hashtag" && parts[1]) return { name: "hashtag", tag: parts[1].replace(/^#/, "") };
  if (parts[0] === "search" && params.get("q")) {
    return { name: "search", q: params.get("q"), type: params.get("type") || "tweets" };
  }
  return { name: "home" };
}

function safeDecode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
