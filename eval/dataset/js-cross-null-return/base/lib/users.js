const USERS = new Map([["1", { name: "Ada" }]]);

/** The user with this id. */
function findUser(id) {
  const user = USERS.get(id);
  if (user === undefined) {
    throw new Error(`unknown user ${id}`);
  }
  return user;
}

module.exports = { findUser };
