export interface User {
  login: string;
  displayName?: string;
}

/** The greeting shown at the top of every page. */
export function greet(user: User): string {
  return `Hello, ${user.login}`;
}
