//! Day 1
