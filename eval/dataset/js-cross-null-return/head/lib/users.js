const USERS = new Map([["1", { name: "Ada" }]]);

/** The user with this id, or null when there is none. */
function findUser(id) {
  const user = USERS.get(id);
  if (user === undefined) {
    // Not exceptional: callers decide what an unknown user means.
    return null;
  }
  return user;
}

module.exports = { findUser };
