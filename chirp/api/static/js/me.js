// Who is signed in: the /users/me answer, or null.

let current = null;

export function me() {
  return current;
}

export function setMe(user) {
  current = user;
}

export function isMe(userId) {
  return current !== null && current.user_id === userId;
}
