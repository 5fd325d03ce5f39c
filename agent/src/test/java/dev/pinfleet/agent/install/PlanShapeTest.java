package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.proto.v1.FailureReason;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What one wheel's targets need of a release's namespace: directories, subtree roots, the first collision. */
class PlanShapeTest {
    private static final String SITE = "lib/python3.11/site-packages";
    private static final Set<String> SKELETON = Set.of("bin", "include", "lib", "lib/python3.11", SITE);
    private static final Set<String> RESERVED = Set.of("pyvenv.cfg", "lib64", ".pinfleet", "bin/python", "bin/python3",
            "bin/python3.11", "bin/activate");

    private static PlanShape of(String... targets) {
        return PlanShape.of(Set.of(targets), SKELETON, RESERVED);
    }

    @Test
    void directoriesBelowTheSkeletonEachOnceAndOneRootPerSubtree() {
        PlanShape s = of(SITE + "/numpy/__init__.py", SITE + "/numpy/core/multiarray.py", SITE + "/numpy/core/umath.py",
                SITE + "/six.py", "bin/tool", "share/man/man1/tool.1");
        assertEquals(Set.of(SITE + "/numpy", SITE + "/numpy/core", "share", "share/man", "share/man/man1"),
                new HashSet<>(s.dirs()));
        assertEquals(5, s.dirs().size());
        assertEquals(Set.of(SITE + "/numpy", SITE + "/six.py", "bin/tool", "share"), s.roots());
        assertNull(s.conflict());
    }

    @Test
    void theRootIsTheFirstPrefixOutsideTheSkeleton() {
        assertEquals(SITE + "/numpy", PlanShape.root(SITE + "/numpy/core/x.py", SKELETON));
        assertEquals(SITE, PlanShape.root(SITE, SKELETON), "a skeleton directory is its own root");
        assertEquals("top.txt", PlanShape.root("top.txt", SKELETON));
        assertEquals("app", PlanShape.root("app/static/site.css", SKELETON));
        assertEquals("bin/tool", PlanShape.root("bin/tool", SKELETON));
    }

    @Test
    void aTargetNeededAsADirectoryIsAConflictNamingWhoseFileItIs() {
        PlanShape own = of(SITE + "/alpha/data", SITE + "/alpha/data/inner.py");
        assertEquals(SITE + "/alpha/data", own.conflict());
        assertTrue(own.conflictIsOwnFile());
        assertFalse(own.writesSkeletonDir());
        InstallException e = own.conflictError("alpha.whl");
        assertEquals("alpha.whl: needs '" + SITE + "/alpha/data' as a directory, but it is a file of alpha.whl",
                e.getMessage());
        assertEquals(FailureReason.REASON_INSTALL_CONFLICT, e.reason());

        PlanShape venv = of("bin/python/evil");
        assertEquals("bin/python", venv.conflict());
        assertFalse(venv.conflictIsOwnFile());
        assertEquals("w.whl: needs 'bin/python' as a directory, but it is a file of the virtualenv",
                venv.conflictError("w.whl").getMessage());

        PlanShape skeleton = of("include", SITE + "/ok.py");
        assertEquals("include", skeleton.conflict());
        assertTrue(skeleton.writesSkeletonDir());
        assertEquals("w.whl: writes 'include' as a file, but the virtualenv needs it as a directory",
                skeleton.conflictError("w.whl").getMessage());
    }

    @Test
    void theDirectoriesOfSeveralShapesAreUnitedEachOnce() {
        List<String> all = PlanShape.union(List.of(of(SITE + "/a/x.py", SITE + "/ns/a/y.py"), of(SITE + "/ns/b/z.py")));
        assertEquals(Set.of(SITE + "/a", SITE + "/ns", SITE + "/ns/a", SITE + "/ns/b"), new HashSet<>(all));
        assertEquals(4, all.size());
    }
}
