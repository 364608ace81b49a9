// The one source of hfk_gtest_pch, the target whose precompiled header (GoogleTest and the
// standard headers most tests use) every GoogleTest program reuses. Nothing else lives here.
