package shop;

/** A balance in cents. */
public final class Account {
    private long balance;

    public void withdraw(long cents) {
        balance -= cents;
    }

    public void deposit(long cents) {
        balance += cents;
    }
}
