import CMallocArenas

/// glibc's malloc arenas, set through the C shim because Swift's Glibc module leaves out <malloc.h>.
enum MallocArenas {
    /// Caps the arenas glibc creates (`mallopt(M_ARENA_MAX, count)`). Best effort: a glibc that refuses
    /// the setting only costs memory, so a refusal is not an error.
    static func limit(to count: Int32) {
        _ = twofactord_set_malloc_arena_max(count)
    }
}
