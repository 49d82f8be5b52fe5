/**
 * How resource classes hand Pulumi a provider. Pulumi serializes the provider object: code under node_modules is
 * captured as `require("sftp-jail/...")`, anything else by value (zod schemas, sockets and all, which cannot be).
 * So the provider's methods capture nothing but the adapter *module*, which the provider process then requires.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConnectionInput } from "../connection/schema";

/** The methods an adapter module exports. */
export interface AdapterModule {
  check(olds: any, news: any): Promise<pulumi.dynamic.CheckResult>;
  diff(id: string, olds: any, news: any): Promise<pulumi.dynamic.DiffResult>;
  create(inputs: any): Promise<pulumi.dynamic.CreateResult>;
  read(id: string, props?: any): Promise<pulumi.dynamic.ReadResult>;
  update(id: string, olds: any, news: any): Promise<pulumi.dynamic.UpdateResult>;
  delete(id: string, props: any): Promise<void>;
}

export function dynamicProvider(m: AdapterModule): pulumi.dynamic.ResourceProvider {
  return {
    check: (olds, news) => m.check(olds, news),
    diff: (id, olds, news) => m.diff(id, olds, news),
    create: (inputs) => m.create(inputs),
    read: (id, props) => m.read(id, props),
    update: (id, olds, news) => m.update(id, olds, news),
    delete: (id, props) => m.delete(id, props),
  };
}

/** Resource options every sftp-jail resource gets: the connection is always kept encrypted in state. */
export function withSecretConnection(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
  return { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] };
}

/** Wraps the connection input so it is a secret in state, whatever the caller passed. */
export function secretConnection(c: pulumi.Input<ConnectionInput>): pulumi.Output<ConnectionInput> {
  return pulumi.secret(pulumi.output(c)) as pulumi.Output<ConnectionInput>;
}

/** The Pulumi type token module: resources read as `sftpjail:<Type>` in previews. */
export const MODULE = "sftpjail";
