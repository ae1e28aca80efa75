const { findUser } = require("./users");

/** The greeting shown on a user's profile page. */
function greeting(id) {
  return `Hello, ${findUser(id).name}!`;
}

module.exports = { greeting };
