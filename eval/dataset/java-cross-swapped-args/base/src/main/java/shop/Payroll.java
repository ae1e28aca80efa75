package shop;

/** Pays salaries. */
public final class Payroll {
    /** Pays one employee their monthly salary. */
    public void pay(Account company, Account employee, long salaryCents) {
    }
}
