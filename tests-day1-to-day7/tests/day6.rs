//! Day 6
