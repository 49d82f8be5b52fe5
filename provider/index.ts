/**
 * sftp-jail: Pulumi resources for chrooted, SFTP-only access on Linux hosts, converged over SSH.
 */
export { SftpGroup, SftpGroupArgs } from "./resources/sftpGroup";
export { ConnectionInput } from "./connection/schema";
