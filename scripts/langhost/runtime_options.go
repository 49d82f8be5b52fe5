// Added to the v3.68.0 Node.js language host when scripts/setup-pulumi.sh builds it (see there for why that version),
// with one line in its Run method: `host = host.withRunOptions(req)`.
//
// That host takes its runtime options (`typescript`, `nodeargs`, `tsconfig`) as command-line flags, which the CLIs of
// its time built from Pulumi.yaml's `runtime.options`. Current CLIs start the host with only the engine's address and
// send the options in each Run request instead, as `info` (field 14, a ProgramInfo whose field 4 is the options
// Struct). This host's generated code predates that field, so it sat unread among the request's unknown fields and
// every option was silently dropped: a project that says `typescript: false` still had ts-node registered, and
// `nodeargs` never reached Node. Here the options are read from the request itself, as current hosts read them (the
// same defaults: typescript on unless the project says otherwise). Official Pulumi installs need none of this.
package main

import (
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

const (
	runRequestInfoField  = 14 // RunRequest.info (ProgramInfo)
	programInfoOptsField = 4  // ProgramInfo.options (google.protobuf.Struct)
)

// withRunOptions returns the host to run `req` with: a copy holding the request's runtime options, or the host as
// started (its flags) when the request carries none (a CLI of the host's own time).
func (host *nodeLanguageHost) withRunOptions(req *pulumirpc.RunRequest) *nodeLanguageHost {
	info, ok := field(req.ProtoReflect().GetUnknown(), runRequestInfoField)
	if !ok {
		return host
	}
	opts := map[string]interface{}{}
	if raw, ok := field(info, programInfoOptsField); ok {
		var s structpb.Struct
		if proto.Unmarshal(raw, &s) == nil {
			opts = s.AsMap()
		}
	}
	c := *host
	c.typescript, c.tsconfigpath, c.nodeargs = true, "", ""
	if v, ok := opts["typescript"].(bool); ok {
		c.typescript = v
	}
	if v, ok := opts["tsconfig"].(string); ok {
		c.tsconfigpath = v
	}
	if v, ok := opts["nodeargs"].(string); ok {
		c.nodeargs = v
	}
	return &c
}

// field returns the bytes of the last length-delimited field `num` in the wire-format message `b`.
func field(b []byte, num protowire.Number) ([]byte, bool) {
	var out []byte
	found := false
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, false
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return nil, false
			}
			out, found = v, true
			b = b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return nil, false
		}
		b = b[l:]
	}
	return out, found
}
