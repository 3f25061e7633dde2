//! Day 2
