// What the running Node.js can do, where narwhal's features depend on it.

/** `listen({ reusePort })`: Node >= 22.12 (and 23.1+). */
export function hasReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}
