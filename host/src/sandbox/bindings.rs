//! Host bindings generated from `wit/medic.wit`. Every import is async (host calls may
//! spawn processes or wait on the network) and trappable (a limit can stop the guest).

wasmtime::component::bindgen!({
    world: "remediation-world",
    path: "../wit",
    imports: { default: async | trappable | tracing },
    exports: { default: async },
});

pub(crate) use self::medic::remediation::types::{HostError, Incident};
