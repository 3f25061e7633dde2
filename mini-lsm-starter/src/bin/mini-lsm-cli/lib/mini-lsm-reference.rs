// The library of the mini-lsm-reference package, for main.rs.
use mini_lsm_reference as engine;
