export interface User {
  login: string;
  displayName?: string;
}

/** The greeting shown at the top of every page: the display name when there is one. */
export function greet(user: User): string {
  return `Hello, ${user.displayName ?? user.login}`;
}
