// The Profile view, #/users/<username>: who they are, Follow/Unfollow, their tweets.

import { request, withQuery } from "./api.js";
import { plural } from "./dom.js";
import { isMe, me } from "./me.js";
import { announce, showError } from "./messages.js";
import { TweetList } from "./tweet_list.js";
import { displayName } from "./tweets.js";

const PAGE = 20;

let shownUser = null;
let following = false;
let showing = 0;
let timeline = null;

export function setUpProfile() {
  timeline = new TweetList(document.getElementById("profile-tweets"), {
    load: (cursor) =>
      request(withQuery(`/users/${shownUser.user_id}/tweets`, { limit: PAGE, max_id: cursor })),
    emptyText: "No tweets yet.",
  });
  document.getElementById("follow-button").addEventListener("click", toggleFollow);
}

export async function showProfile(username) {
  const show = ++showing;
  timeline.clear();
  shownUser = null;
  fill(null);
  try {
    const user = await request(withQuery("/users", { username }));
    if (show !== showing) return;
    shownUser = user;
    following = isMe(user.user_id) ? false : await follows(user.user_id);
    if (show !== showing) return;
    fill(user);
    await timeline.reset();
  } catch (error) {
    if (show !== showing) return;
    document.getElementById("profile-name").textContent = "Profile";
    showError(error);
  }
}

export function clearProfile() {
  showing += 1;
  shownUser = null;
  timeline.clear();
  fill(null);
}

async function follows(userId) {
  return (await request(`/users/${userId}/relationship`)).following;
}

function fill(user) {
  document.getElementById("profile-name").textContent = user ? displayName(user) : "Loading…";
  document.getElementById("profile-handle").textContent = user ? `@${user.username}` : "";
  const bio = document.getElementById("profile-bio");
  bio.textContent = user?.bio || "";
  bio.hidden = !user?.bio;
  document.getElementById("profile-counts").textContent = user
    ? [
        plural(user.tweet_count, "tweet"),
        plural(user.follower_count, "follower"),
        `${user.following_count} following`,
      ].join(" · ")
    : "";
  const button = document.getElementById("follow-button");
  button.hidden = !user || isMe(user.user_id);
  button.textContent = following ? "Unfollow" : "Follow";
  button.classList.toggle("secondary", following);
}

async function toggleFollow() {
  const button = document.getElementById("follow-button");
  const user = shownUser;
  if (!user) return;
  button.disabled = true;
  try {
    const answer = await request(`/users/${user.user_id}/follow`, {
      method: following ? "DELETE" : "POST",
    });
    following = answer.following;
    const fresh = await request(`/users/${user.user_id}`);
    if (shownUser && shownUser.user_id === fresh.user_id) {
      shownUser = fresh;
      fill(fresh);
    }
    announce(following ? `You follow @${user.username}` : `You unfollowed @${user.username}`);
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}
