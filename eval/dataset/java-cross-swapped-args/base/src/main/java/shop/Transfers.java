package shop;

/** Money moves between accounts. */
public final class Transfers {
    private Transfers() {}

    /** Moves cents from the first account to the second. */
    public static void move(Account from, Account to, long cents) {
        from.withdraw(cents);
        to.deposit(cents);
    }
}
