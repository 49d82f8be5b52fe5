/**
 * The hidden inputs: set by sftp-jail itself (resource classes, components, the plugin), never a program field. Their
 * own module so the program side (resources, components) names them without loading the adapters (adapters/base.ts
 * validates them).
 */

/**
 * The hidden input naming the stack that manages a resource (`<project>/<stack>`): set by the resource classes from
 * pulumi.getProject()/getStack() (the plugin takes it from the URN), never by a program. Not part of any schema (no
 * program field, not in the plugin schema); validated (adapters/base.ts) because SshdMatchBlock writes it into
 * sshd_config.d.
 */
export const OWNER_KEY = "__owner";
/**
 * The hidden input a component sets on the first resource it registers on a host (SftpJailHost: its SftpGroup): every
 * path and file the host's other resources will look at when checked. Pulumi's engine checks resources one at a time,
 * and each check of a new path would be one exec on that critical path; with the hint, the first check's one look
 * covers them all. A hint, never a truth: a path it lacks costs one more exec, one it has one more stat. Every entry
 * must be a normalised host path (validated like the schemas' paths), and nothing is ever changed because of it.
 */
export const LOOK_KEY = "__look";
