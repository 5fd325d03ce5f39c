package dev.pinfleet.controller.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.controller.store.Database;
import dev.pinfleet.controller.store.DatabaseUrl;
import dev.pinfleet.controller.store.JdbcRolloutStore;
import dev.pinfleet.controller.store.RolloutStore;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two controllers' leadership on one real database (SQLite here; the same statements run on PostgreSQL in the store
 * contract), each with its own monotonic clock under the test's hand: one leads, the other waits and refuses writes
 * naming it; a leader paused past its lease acts as the standby; a holder whose process is gone is replaced at once.
 */
class LeadershipTest {
    static final Duration LEASE = Duration.ofSeconds(30);

    @TempDir Path dir;
    RolloutStore store;
    final List<String> events = new ArrayList<>();

    @BeforeEach
    void open() {
        store = new JdbcRolloutStore(Database.open(DatabaseUrl.parse(dir.resolve("records.db").toString(), dir),
                Clock.systemUTC()), Clock.systemUTC());
    }

    @AfterEach
    void close() {
        store.close();
    }

    private Leadership leadership(Owner who, String address, AtomicLong nanos) {
        return new Leadership(store, who, address, LEASE, nanos::get, () -> events.add(address + " elected"),
                why -> events.add(address + " deposed: " + why));
    }

    @Test
    void oneLeadsTheOtherWaitsAndRefusesWritesNamingIt() {
        AtomicLong aClock = new AtomicLong();
        AtomicLong bClock = new AtomicLong(5_000_000_000L);
        Owner a = Owner.newInstance();
        Owner b = Owner.newInstance();
        Leadership la = leadership(a, "a:7300", aClock);
        Leadership lb = leadership(b, "b:7300", bClock);
        la.step();
        lb.step();
        assertTrue(la.active());
        assertFalse(lb.active());
        assertEquals(List.of("a:7300 elected"), events);
        Leadership.requireActive(la, "submit");
        ControllerException e = assertThrows(ControllerException.class, () -> Leadership.requireActive(lb, "submit"));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.code());
        assertEquals("a:7300", e.standby().getActiveAddress());
        assertEquals("b:7300", e.standby().getStandbyAddress());
        assertEquals("submit: refused by the standby controller at b:7300: the active controller is "
                + Owner.describe(a.id()) + " at a:7300; send it there (pinfleet does by itself when --controller lists"
                + " both)", e.getMessage());
        assertTrue(e.standby().getLeaseLeftMs() > 0, e.standby().toString());
        ControllerException starting = assertThrows(ControllerException.class,
                () -> Leadership.requireActive(null, "cancel 3"));
        assertEquals("cancel 3: the controller is starting: try again", starting.getMessage());

        // a's monotonic clock passes its lease without a renewal (the process was paused): it acts as the standby at
        // once, although the database still names it; its next step renews the same epoch, and it leads on.
        aClock.addAndGet(LEASE.toNanos());
        assertFalse(la.active(), "a leader that could not renew within its lease stops acting as one");
        la.step();
        assertTrue(la.active());
        assertEquals(List.of("a:7300 elected"), events, "a late renewal of the same epoch is no new election");

        // a stops cleanly: b takes over at its next step; a, asked again, is the standby.
        la.resign();
        assertFalse(la.active());
        lb.step();
        assertTrue(lb.active());
        la.step();
        assertFalse(la.active());
        assertEquals("b:7300", la.known().address());
        assertEquals(List.of("a:7300 elected", "b:7300 elected"), events);
    }

    @Test
    void aLeaderWhoseLeaseAnotherTookIsDeposedAtItsNextStep() {
        AtomicLong clock = new AtomicLong();
        Owner a = Owner.newInstance();
        Leadership la = leadership(a, "a:7300", clock);
        la.step();
        // Another controller (on another host: only the lease's expiry lets it in) took the lease after it ran out.
        store.lead("otherhost/1/1/x", "c:7300", LEASE.toMillis(), store.leader().epoch());
        la.step();
        assertFalse(la.active());
        assertEquals(2, events.size(), events.toString());
        assertTrue(events.get(1).startsWith("a:7300 deposed: this controller stopped being the active one (controller"
                + " process 1 on otherhost at c:7300 took the leadership lease)"), events.toString());
    }

    @Test
    void aHolderWhoseProcessIsGoneIsReplacedWithoutWaitingForItsLease() {
        // A holder on this host under a pid no process has: gone for sure, though its lease runs for 30 s more.
        String host = Owner.newInstance().id().split("/")[0];
        store.lead(host + "/" + Integer.MAX_VALUE + "/1/dead", "d:7300", LEASE.toMillis(), 0);
        Leadership lb = leadership(Owner.newInstance(), "b:7300", new AtomicLong());
        lb.step();
        assertTrue(lb.active(), "taken from a holder whose process is gone");
        assertEquals(List.of("b:7300 elected"), events);
    }
}
