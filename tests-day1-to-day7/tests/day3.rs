//! Day 3
