//! The example service chain (examples/service_chain.rs), run as a test.
