/**
 * sftp-jail: Pulumi resources for chrooted, SFTP-only access on Linux hosts, converged over SSH.
 */
export { SftpGroup, SftpGroupArgs } from "./resources/sftpGroup";
export { FirewallRule, FirewallRuleArgs } from "./resources/firewallRule";
export { SshdMatchBlock, SshdMatchBlockArgs } from "./resources/sshdMatchBlock";
export { ChrootDir, ChrootDirArgs, ChrootSubdir } from "./resources/chrootDir";
export { JailedUser, JailedUserArgs } from "./resources/jailedUser";
export { SftpJailHost, SftpJailHostArgs, SftpJailUser, jailDirectives } from "./components/sftpJailHost";
export { ConnectionArgs, ProxyConnectionArgs } from "./resources/dynamic";
export { Fleet, ConfigJail, fleetSchema, plaintextMessage, plaintextSecrets } from "./schema/stackConfig";
